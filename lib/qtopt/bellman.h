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
#include "data/transition_batch.h"
#include "qtopt/cem.h"
#include "qtopt/q_network.h"
#include "qtopt/qtopt_config.h"

namespace perpetua {


// A minibatch as tensors on one device.
struct TensorBatch {
  torch::Tensor image;         // [B,H,W,3] uint8 (s)
  torch::Tensor proprio;       // [B,P] float32 (P may be 0)
  torch::Tensor action;        // [B,A] float32
  torch::Tensor reward;        // [B] float32
  torch::Tensor terminated;    // [B] float32, 1 = do not bootstrap
  torch::Tensor next_image;    // [B,H,W,3] uint8 (s')
  torch::Tensor next_proprio;  // [B,P] float32
  int64_t size() const { return action.size(0); }
};

// Checks `batch` against `spec` and converts it. Throws Error(kBadData)
// "<source>: ..." naming the key and both shapes on any mismatch, and on
// non-finite actions, rewards or vector observations.
TensorBatch ToTensorBatch(const TransitionBatch& batch, const QInputSpec& spec,
                          const torch::Device& device, const std::string& source);

// One state's inputs from an Observation (policy path): image [1,H,W,3],
// proprio [1,P]. Throws Error(kBadData) on a missing key or wrong shape.
void ObservationToTensors(const Observation& observation, const QInputSpec& spec,
                          const torch::Device& device, torch::Tensor* image, torch::Tensor* proprio);

// Best actions [B,A] for states (image [B,H,W,3], proprio [B,P]) by CEM on
// `network`, computing each state's embedding once (returned in
// `embedding` [B,C,h,w] when not null, for reuse).
torch::Tensor MaximizeQ(QNetworkImpl& network, const torch::Tensor& image, const torch::Tensor& proprio,
                        const CemConfig& cem, at::Generator& generator, torch::Tensor* embedding = nullptr);

// What ComputeTargets returns besides the targets, for metrics.
struct TargetStats {
  double target_mean = 0.0;     // mean Bellman target
  double next_value_mean = 0.0; // mean clipped double-Q value V(s')
  double terminal_fraction = 0.0;
};

// Bellman targets [B] in [0,1] (see the file comment). No gradients.
torch::Tensor ComputeTargets(const TensorBatch& batch, QNetworkImpl& target1, QNetworkImpl& target2,
                             const CemConfig& cem, const BellmanConfig& bellman, at::Generator& generator,
                             TargetStats* stats = nullptr);

}  // namespace perpetua
