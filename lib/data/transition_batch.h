// A minibatch of transitions (s, a, r, s', terminal) for off-policy learners.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/array.h"
#include "common/rng.h"

namespace perpetua {

struct TransitionBatch {
  std::map<std::string, Array> observations;       // key -> [B, ...] (s)
  std::map<std::string, Array> next_observations;  // key -> [B, ...] (s')
  Array actions;                                   // [B, A] float32
  std::vector<float> rewards;                      // (B)
  std::vector<uint8_t> terminated;                 // (B) 1: s' is terminal, do not bootstrap
                                                   // (a truncated step is NOT terminal)
  // (B) or empty: the undiscounted sum of the episode's stored rewards from
  // this step to its last (datasets fill it; a source that replaces the
  // rewards, VICE's or relabelled goals', leaves it empty).
  std::vector<float> returns_to_go;
  // Hindsight goals: only SampleWithFuture fills it, for the keys asked. For
  // transition t of an episode of N steps, obs[f] with f drawn uniformly from
  // [t+1, N]: s' or a later observation of the same episode.
  std::map<std::string, Array> future_observations;  // key -> [B, ...]
  int64_t size() const { return static_cast<int64_t>(rewards.size()); }
};

// Anything that serves uniform random minibatches of transitions: a dataset
// on disk (offline buffer), the live stream of new shards (online buffer), a
// mix of both. Sample() may be called from one thread at a time unless an
// implementation says otherwise.
class TransitionSampler {
 public:
  virtual ~TransitionSampler() = default;
  // Transitions currently available to sample.
  virtual int64_t num_transitions() const = 0;
  // `batch_size` transitions drawn uniformly (with replacement) using `rng`.
  // Throws Error(kBadData) if nothing is available.
  virtual TransitionBatch Sample(int batch_size, Rng& rng) = 0;
  // Sample() plus future_observations for `future_keys` (observation keys).
  // With no keys it is Sample() (same draws); an implementation that cannot
  // serve future observations throws Error(kBadData) (this default).
  virtual TransitionBatch SampleWithFuture(int batch_size, Rng& rng, const std::vector<std::string>& future_keys);
};

}  // namespace perpetua
