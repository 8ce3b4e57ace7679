// Explicit, portable randomness. No global generator: every component that
// needs randomness receives an Rng (or a seed) as an argument, and every
// artifact records the seed it came from. The algorithms (SplitMix64 seeding,
// xoshiro256**, Box-Muller) are fixed here, so results do not depend on the
// standard library's distribution implementations.
#pragma once

#include <cstdint>

namespace perpetua {

// Mixes a 64-bit value (SplitMix64 finaliser). Bijective.
uint64_t Mix64(uint64_t x);

// A child seed for (seed, stream, index): e.g. the seed of episode `index` of
// worker `stream`. Distinct inputs give unrelated outputs.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream, uint64_t index);

// xoshiro256** generator. Cheap to copy; copying forks the stream.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t NextU64();
  // Uniform in [0, 1).
  double Uniform();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi);
  // Uniform integer in [0, n); n > 0.
  uint64_t UniformInt(uint64_t n);
  // Standard normal (Box-Muller).
  double Normal();
  // The raw state (for checkpoints) and its restoration.
  void GetState(uint64_t out[4]) const;
  void SetState(const uint64_t in[4]);

 private:
  uint64_t s_[4];
};

}  // namespace perpetua
