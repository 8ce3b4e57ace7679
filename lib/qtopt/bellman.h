// Bellman targets for QT-Opt: clipped double Q over two lagged target
// networks with the next action chosen by CEM.
//
//   a*     = argmax_a Q_target1(s', a)                      (CEM, embedding of s' once)
//   V(s')  = min(Q_target1(s', a*), Q_target2(s', a*))      (clipped double Q)
//   target = clamp(r - step_penalty + gamma * (1 - terminated) * V(s'), 0, 1)
// A truncated (time-limit) step is not terminated: it bootstraps from s'.
// Q values are probabilities (sigmoid of the logits), so targets are clamped
// to [0,1] for the cross-entropy loss.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/config.h"
#include "nn/tensor_batch.h"
#include "qtopt/cem.h"
#include "qtopt/q_network.h"
#include "qtopt/qtopt_config.h"

namespace perpetua {


// Best actions [B,A] for states (image [B,H,W,3], proprio [B,P]) by CEM on
// `network`, computing each state's embedding once (returned in
// `embedding` [B,C,h,w] when not null, for reuse) and scoring each round's
// population in one QNetworkImpl::Scores call. Runs under c10::InferenceMode:
// the results are inference tensors (read them, or clone() them outside
// InferenceMode before autograd sees them).
torch::Tensor MaximizeQ(QNetworkImpl& network, const torch::Tensor& image, const torch::Tensor& proprio,
                        const CemConfig& cem, at::Generator& generator, torch::Tensor* embedding = nullptr);

// What ComputeTargets returns besides the targets, for metrics.
struct TargetStats {
  double target_mean = 0.0;     // mean Bellman target
  double next_value_mean = 0.0; // mean clipped double-Q value V(s')
  double terminal_fraction = 0.0;
};

// Bellman targets [B] in [0,1] (see the file comment), computed under
// c10::InferenceMode (s' converted once for both networks) and returned as
// an ordinary tensor. No gradients.
torch::Tensor ComputeTargets(const TensorBatch& batch, QNetworkImpl& target1, QNetworkImpl& target2,
                             const CemConfig& cem, const BellmanConfig& bellman, at::Generator& generator,
                             TargetStats* stats = nullptr);

}  // namespace perpetua
