// Test-only in-memory ReplayData: synthetic episodes in memory, so the
// trainer's logic (resume, guards, workers) is tested without files. The
// end-to-end tests (rl_train_test.cpp) use real shards through rl-train.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "data/episode.h"
#include "replay/replay_mix.h"

namespace perpetua::testing {

// The spec of the synthetic episodes: image [size,size,3] uint8, "proprio" [2], action [2] in [-1,1].
inline EnvSpec ToySpec(int size = 16) {
  EnvSpec spec;
  spec.name = "toy";
  spec.observations = {{"image", DType::kUint8, {size, size, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low = {-1.0f, -1.0f};
  spec.action.high = {1.0f, 1.0f};
  spec.action.names = {"a0", "a1"};
  spec.max_episode_steps = 3;
  return spec;
}

// A 3-step episode: random images and proprio; the last step is terminal with
// reward 1 when its action[0] > 0 (else 0); `nan_proprio` puts a NaN in it.
inline Episode ToyEpisode(uint64_t seed, int size = 16, bool nan_proprio = false) {
  Rng rng(seed);
  Episode e;
  const int n = 3;
  Array image = Array::Zeros(DType::kUint8, {n + 1, size, size, 3});
  for (auto& v : image.u8) v = static_cast<uint8_t>(rng.UniformInt(256));
  Array proprio = Array::Zeros(DType::kFloat32, {n + 1, 2});
  for (auto& v : proprio.f32) v = static_cast<float>(rng.Normal());
  if (nan_proprio) proprio.f32[1] = std::numeric_limits<float>::quiet_NaN();
  e.observations["image"] = image;
  e.observations["proprio"] = proprio;
  e.actions = Array::Zeros(DType::kFloat32, {n, 2});
  for (auto& v : e.actions.f32) v = static_cast<float>(rng.Uniform(-1, 1));
  e.rewards = {0.0f, 0.0f, e.actions.f32[2 * (n - 1)] > 0 ? 1.0f : 0.0f};
  e.terminated = {0, 0, 1};
  e.truncated = {0, 0, 0};
  return e;
}

// Uniform transitions over in-memory episodes.
class MemorySampler : public TransitionSampler {
 public:
  void Add(const Episode& e) {
    for (int64_t t = 0; t < e.num_steps(); ++t) index_.push_back({episodes_.size(), t});
    episodes_.push_back(e);
  }
  int64_t num_transitions() const override { return static_cast<int64_t>(index_.size()); }
  TransitionBatch Sample(int batch_size, Rng& rng) override {
    if (index_.empty()) Fail(ExitCode::kBadData, "no transitions to sample from");
    TransitionBatch b;
    const Episode& first = episodes_.front();
    for (const auto& [key, array] : first.observations) {
      std::vector<int64_t> shape = array.shape;
      shape[0] = batch_size;
      b.observations[key] = Array::Zeros(array.dtype, shape);
      b.next_observations[key] = Array::Zeros(array.dtype, shape);
    }
    const int64_t a = first.actions.shape[1];
    b.actions = Array::Zeros(DType::kFloat32, {batch_size, a});
    for (int i = 0; i < batch_size; ++i) {
      const auto [ei, t] = index_[rng.UniformInt(index_.size())];
      const Episode& e = episodes_[ei];
      for (const auto& [key, array] : e.observations) {
        const int64_t row = array.NumElements() / array.shape[0];
        Array& s = b.observations[key];
        Array& s2 = b.next_observations[key];
        if (array.dtype == DType::kUint8) {
          std::copy_n(array.u8.begin() + t * row, row, s.u8.begin() + i * row);
          std::copy_n(array.u8.begin() + (t + 1) * row, row, s2.u8.begin() + i * row);
        } else {
          std::copy_n(array.f32.begin() + t * row, row, s.f32.begin() + i * row);
          std::copy_n(array.f32.begin() + (t + 1) * row, row, s2.f32.begin() + i * row);
        }
      }
      std::copy_n(e.actions.f32.begin() + t * a, a, b.actions.f32.begin() + i * a);
      b.rewards.push_back(e.rewards[t]);
      b.terminated.push_back(e.terminated[t]);
    }
    return b;
  }

 private:
  std::vector<Episode> episodes_;
  std::vector<std::pair<size_t, int64_t>> index_;
};

// ReplayData over MemorySamplers; "online shards" are names registered with
// RegisterShard (an unknown name is Error(kBadData), like an unreadable file).
class MemoryReplay : public ReplayData {
 public:
  explicit MemoryReplay(EnvSpec spec) : spec_(std::move(spec)) {}
  const EnvSpec& spec() const override { return spec_; }
  TransitionSampler& offline() override { return offline_; }
  std::vector<std::string> RefreshOffline() override { return {}; }
  void AddOffline(const Episode& e) { offline_.Add(e); }
  void RegisterShard(const std::string& name, std::vector<Episode> episodes) { shards_[name] = std::move(episodes); }
  std::unique_ptr<TransitionSampler> OpenShard(const std::string& path) override {
    auto it = shards_.find(path);
    if (it == shards_.end()) Fail(ExitCode::kBadData, path + ": no such shard");
    auto shard = std::make_unique<MemorySampler>();
    for (const auto& e : it->second) shard->Add(e);
    return shard;
  }

 private:
  EnvSpec spec_;
  MemorySampler offline_;
  std::map<std::string, std::vector<Episode>> shards_;
};

// A factory giving MemoryReplay with `episodes` toy episodes (seeds 0..n-1) offline.
inline ReplayDataFactory ToyFactory(int episodes, int size = 16, bool nan_proprio = false) {
  return [=](const std::vector<std::string>&, const ShardSubset&) {
    auto data = std::make_unique<MemoryReplay>(ToySpec(size));
    for (int i = 0; i < episodes; ++i) data->AddOffline(ToyEpisode(static_cast<uint64_t>(i), size, nan_proprio && i == 0));
    return std::unique_ptr<ReplayData>(std::move(data));
  };
}

}  // namespace perpetua::testing
