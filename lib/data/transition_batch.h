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
  std::vector<float> rewards;                      // (B); n-step: sum_{k<m} discount^k r[t+k]
  std::vector<uint8_t> terminated;                 // (B) 1: s' is terminal, do not bootstrap
                                                   // (a truncated step is NOT terminal)
  // (B) or empty (every row 1): m, the steps the row spans when n-step
  // returns were asked (SampleRequest::n_step). s' is then obs[t+m], rewards
  // the discounted sum of the m rewards, and a learner bootstraps with
  // gamma^m. m < n where the episode ends first; terminated is the last step's.
  std::vector<uint8_t> steps;
  // (B) or empty: the undiscounted sum of the episode's stored rewards from
  // this step to its last (datasets fill it; a source that replaces the
  // rewards, VICE's or relabelled goals', leaves it empty).
  std::vector<float> returns_to_go;
  // Hindsight goals: only SampleFor fills it, for the keys asked. For
  // transition t of an episode of N steps, obs[f] with f drawn uniformly from
  // [t+1, N]: s' or a later observation of the same episode.
  std::map<std::string, Array> future_observations;  // key -> [B, ...]
  int64_t size() const { return static_cast<int64_t>(rewards.size()); }
};

// The longest n-step return a sampler serves (TransitionBatch::steps is a byte).
inline constexpr int kMaxNStep = 100;

// What a learner asks of a minibatch beyond one-step transitions.
struct SampleRequest {
  // Hindsight goals: future_observations for these observation keys.
  std::vector<std::string> future_keys;
  // n-step returns (1: one-step transitions). Each row spans m = min(n_step,
  // steps left in its episode) steps; rewards are summed with `discount`
  // (the learner's gamma); TransitionBatch::steps holds m.
  int n_step = 1;
  double discount = 1.0;
  bool plain() const { return future_keys.empty() && n_step == 1; }  // Sample()'s own
};

// Throws Error(kUsage) unless 1 <= n_step <= kMaxNStep and discount is in [0, 1].
void CheckNStep(const SampleRequest& request);

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
  // Sample() as `request` asks: future_observations for its keys, n-step
  // rows. A default request is Sample() (same draws); an implementation that
  // cannot serve a request throws Error(kBadData) (this default, for any
  // request but the default).
  virtual TransitionBatch SampleFor(int batch_size, Rng& rng, const SampleRequest& request);
};

}  // namespace perpetua
