// Synthetic episodes for the data tests and benchmarks: deterministic
// functions of (seed, steps), so a reader can check every value it gets back.
#pragma once

#include <cstdint>

#include "common/rng.h"
#include "data/episode.h"

namespace perpetua::testing {

// Shape of the synthetic episodes.
struct EpisodeShape {
  int64_t steps = 5;        // N
  int64_t height = 8;       // image [H, W, 3] uint8 under key "image"; 0: no image
  int64_t width = 8;
  int64_t proprio = 3;      // "proprio" [k] float32; 0: none
  int64_t action_dim = 2;   // A
};

// Episode whose every value derives from `seed`: image pixels are smooth
// gradients plus a little noise (compressible like rendered frames).
inline Episode MakeEpisode(uint64_t seed, const EpisodeShape& shape = {}) {
  Rng rng(seed);
  const int64_t n = shape.steps;
  Episode e;
  if (shape.height > 0) {
    Array image = Array::Zeros(DType::kUint8, {n + 1, shape.height, shape.width, 3});
    size_t i = 0;
    for (int64_t t = 0; t <= n; ++t) {
      for (int64_t y = 0; y < shape.height; ++y) {
        for (int64_t x = 0; x < shape.width; ++x) {
          for (int64_t c = 0; c < 3; ++c) {
            image.u8[i++] = static_cast<uint8_t>((x * 3 + y * 2 + t * 7 + c * 40 + seed) +
                                                 (rng.NextU64() & 3));
          }
        }
      }
    }
    e.observations["image"] = std::move(image);
  }
  if (shape.proprio > 0) {
    Array proprio = Array::Zeros(DType::kFloat32, {n + 1, shape.proprio});
    for (float& v : proprio.f32) v = static_cast<float>(rng.Normal());
    e.observations["proprio"] = std::move(proprio);
  }
  e.actions = Array::Zeros(DType::kFloat32, {n, shape.action_dim});
  for (float& v : e.actions.f32) v = static_cast<float>(rng.Uniform(-1, 1));
  for (int64_t t = 0; t < n; ++t) {
    e.rewards.push_back(static_cast<float>(rng.Uniform()));
    e.terminated.push_back(0);
    e.truncated.push_back(0);
  }
  if (seed % 2 == 0) {
    e.terminated.back() = 1;
  } else {
    e.truncated.back() = 1;
  }
  e.metadata.success = seed % 3 == 0;
  e.metadata.seed = seed;
  e.metadata.object_ids = {static_cast<int64_t>(seed % 7), 42};
  e.metadata.policy_id = "scripted:" + std::to_string(seed);
  e.metadata.start_time_unix = 1.7e9 + static_cast<double>(seed);
  e.metadata.end_time_unix = 1.7e9 + static_cast<double>(seed) + 2.5;
  e.metadata.extra_json = "{\"cell\":\"grasp\"}";
  return e;
}

}  // namespace perpetua::testing
