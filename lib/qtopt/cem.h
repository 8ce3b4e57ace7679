// Cross-entropy method: maximises a score over a box of continuous actions,
// for a batch of states at once. Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>

#include "common/config.h"
#include "qtopt/qtopt_config.h"

namespace perpetua {


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
