// The QT-Opt learner's state and its gradient step: the online Q-network,
// two lagged target networks and the Adam optimiser. Pure state + one update;
// sampling, target workers, checkpoint files and metrics live in the trainer.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/config.h"
#include "dist/collective.h"
#include "nn/checkpoint.h"
#include "qtopt/bellman.h"
#include "qtopt/q_network.h"
#include "qtopt/qtopt_config.h"

namespace perpetua {


// Figures of one gradient step (for metrics).
struct UpdateStats {
  double loss = 0.0;       // mean cross-entropy against the Bellman targets
  double q_mean = 0.0;     // mean Q(s,a) (probability) before the step
  double q_min = 0.0, q_max = 0.0;
  double grad_norm = 0.0;  // global gradient norm before clipping
  double conservative = 0.0;  // the CQL term before weighting (0 when off)
};

class QLearner {
 public:
  // Builds fresh networks (weights drawn from `seed` via torch's global
  // generator), target networks equal to the online one, and Adam.
  QLearner(const QNetworkConfig& network, const QInputSpec& spec, const OptimizerConfig& optimizer,
           const BellmanConfig& bellman, const torch::Device& device, uint64_t seed);

  // One Adam step on cross-entropy(sigmoid(Q(s,a)), target) over batch
  // tensors on device(): image [B,H,W,3] uint8, proprio [B,P], action [B,A],
  // target [B] in [0,1]; plus the conservative term of OptimizerConfig, whose
  // random actions come from `generator` (CPU). Then target1 <- Polyak(tau), and target2 <- target1
  // every lag_steps steps. Throws Error(kDiverged) (state left as before the
  // step's optimiser update is not guaranteed: do not save afterwards) when
  // the loss, gradients or updated parameters are not finite.
  UpdateStats Update(const torch::Tensor& image, const torch::Tensor& proprio, const torch::Tensor& action,
                     const torch::Tensor& target, at::Generator& generator);

  // Data-parallel training: gradients are averaged over the ranks after the
  // backward pass (before the norm, clipping and Adam). Null: one process.
  void SetCollective(Collective* collective) { collective_ = collective; }
  // Every rank's identical state: the online and target networks.
  std::vector<torch::Tensor> ReplicatedState();

  int64_t step() const { return step_; }
  const torch::Device& device() const { return device_; }
  QNetworkImpl& online() { return *online_; }
  QNetworkImpl& target1() { return *target1_; }
  QNetworkImpl& target2() { return *target2_; }

  // Adds networks and optimiser state ("net.*", "optim.adam") and "step" to `contents`.
  void Save(CheckpointContents* contents);
  // Restores everything Save wrote (resume). Throws Error(kBadData).
  void Load(const CheckpointContents& contents, const std::string& source);
  // Warm start: online and target networks from the checkpoint's online
  // network; fresh optimiser, step 0. Throws Error(kBadData).
  void InitFrom(const CheckpointContents& contents, const std::string& source);

 private:
  QNetworkConfig network_config_;
  QInputSpec spec_;
  OptimizerConfig optimizer_config_;
  BellmanConfig bellman_;
  torch::Device device_;
  QNetwork online_{nullptr}, target1_{nullptr}, target2_{nullptr};
  torch::Tensor action_low_, action_width_;  // [A] on device_: the action box for the conservative term
  std::unique_ptr<torch::optim::Adam> adam_;
  int64_t step_ = 0;
  Collective* collective_ = nullptr;
};

}  // namespace perpetua
