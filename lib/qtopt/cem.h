// Cross-entropy method: maximises a score over a box of continuous actions,
// for a batch of states at once. Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>

#include "common/config.h"

namespace perpetua {

struct CemConfig {
  int iterations = 2;   // sampling rounds (QT-Opt: 2-3)
  int samples = 64;     // actions scored per state per round (QT-Opt: 32-64)
  int elites = 6;       // best samples that refit the Gaussian (QT-Opt: 4-6)
  double min_std = 0.02;  // floor on each action component's std, as a fraction of the box width
  void Visit(ConfigVisitor& v) {
    v.Field("iterations", iterations, "CEM rounds");
    v.Field("samples", samples, "actions sampled per state per round");
    v.Field("elites", elites, "best samples used to refit the sampling Gaussian");
    v.Field("min_std", min_std, "lower bound on the sampling std, as a fraction of the action range");
  }
  // Throws Error(kUsage) naming `flag_prefix` (e.g. "cem") on invalid values.
  void Validate(const std::string& flag_prefix) const;
};

// Scores candidate actions: actions [B,N,A] -> scores [B,N] (higher is better).
using ActionScorer = std::function<torch::Tensor(const torch::Tensor& actions)>;

// Returns, for each of `batch` states, the best action found [B,A] (within
// [low, high], both [A] on the scorer's device). Round 1 samples a Gaussian
// centred in the box with std = half its width; each round clamps the samples
// to the box, scores them, and refits mean/std to the `elites` best. The best
// sample over all rounds is returned. Deterministic given `generator` (CPU).
torch::Tensor CemMaximize(const CemConfig& config, int64_t batch, const torch::Tensor& low,
                          const torch::Tensor& high, const ActionScorer& score,
                          at::Generator& generator);

}  // namespace perpetua
