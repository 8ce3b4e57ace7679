#include "qtopt/q_learner.h"

#include <cmath>

#include "common/error.h"
#include "nn/row_draws.h"
#include "nn/tensor_io.h"
#include "qtopt/q_checkpoint.h"

namespace perpetua {

void OptimizerConfig::Validate(const std::string& prefix) const {
  if (!(learning_rate > 0.0 && std::isfinite(learning_rate))) {
    Fail(ExitCode::kUsage, "--" + prefix + ".learning-rate must be positive");
  }
  if (!(grad_clip >= 0.0)) Fail(ExitCode::kUsage, "--" + prefix + ".grad-clip must be >= 0");
  if (!(conservative_weight >= 0.0 && std::isfinite(conservative_weight))) {
    Fail(ExitCode::kUsage, "--" + prefix + ".conservative-weight must be >= 0");
  }
  if (conservative_samples < 1) Fail(ExitCode::kUsage, "--" + prefix + ".conservative-samples must be >= 1");
}

QLearner::QLearner(const QNetworkConfig& network, const QInputSpec& spec, const OptimizerConfig& optimizer,
                   const BellmanConfig& bellman, const torch::Device& device, uint64_t seed)
    : network_config_(network), spec_(spec), optimizer_config_(optimizer), bellman_(bellman), device_(device) {
  torch::manual_seed(seed);
  online_ = QNetwork(network, spec);
  online_->to(device);
  target1_ = CloneNetwork(*online_, device);
  target2_ = CloneNetwork(*online_, device);
  target1_->eval();
  target2_->eval();
  action_low_ = torch::tensor(spec.action_low).to(device);
  action_width_ = torch::tensor(spec.action_high).to(device) - action_low_;
  adam_ = std::make_unique<torch::optim::Adam>(online_->parameters(),
                                                torch::optim::AdamOptions(optimizer.learning_rate));
}

UpdateStats QLearner::Update(const torch::Tensor& image, const torch::Tensor& proprio, const torch::Tensor& action,
                             const torch::Tensor& target, at::Generator& generator) {
  UpdateStats stats;
  online_->train();
  adam_->zero_grad();
  const torch::Tensor embedding = online_->Embed(image);
  const torch::Tensor logits = online_->Head(embedding, proprio, action);
  torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, target);
  torch::Tensor conservative = torch::zeros({}, logits.options());
  if (optimizer_config_.conservative_weight > 0.0) {
    // Uniform random actions in the box, drawn on the CPU generator so the
    // result does not depend on the device.
    const int64_t b = logits.size(0), n = optimizer_config_.conservative_samples, a = spec_.action_dim();
    const torch::Tensor u = RowRand({b * n, a}, generator).to(device_);
    const torch::Tensor random_actions = action_low_ + u * action_width_;
    const torch::Tensor random_logits =
        online_->Head(embedding.repeat_interleave(n, 0), proprio.repeat_interleave(n, 0), random_actions)
            .view({b, n});
    conservative = (torch::logsumexp(torch::cat({random_logits, logits.unsqueeze(1)}, 1), 1) - logits).mean();
    loss = loss + optimizer_config_.conservative_weight * conservative;
  }
  loss.backward();
  AverageGradients(collective_, online_->parameters());
  torch::Tensor grad_norm;
  {
    std::vector<torch::Tensor> norms;
    for (const auto& p : online_->parameters()) {
      if (p.grad().defined()) norms.push_back(p.grad().norm());
    }
    grad_norm = torch::stack(norms).norm();
  }
  const torch::Tensor q = torch::sigmoid(logits.detach());
  // One host sync for all the figures.
  const torch::Tensor figures =
      torch::stack({loss.detach(), q.mean(), q.min(), q.max(), grad_norm, conservative.detach()})
          .to(torch::kCPU)
          .to(torch::kDouble);
  const double* f = figures.data_ptr<double>();
  stats = {f[0], f[1], f[2], f[3], f[4], f[5]};
  if (!std::isfinite(stats.loss) || !std::isfinite(stats.grad_norm)) {
    Fail(ExitCode::kDiverged, "non-finite " + std::string(std::isfinite(stats.loss) ? "gradient" : "loss") +
                                  " at step " + std::to_string(step_ + 1));
  }
  if (optimizer_config_.grad_clip > 0.0) {
    // torch::nn::utils::clip_grad_norm_ with the norm computed above (the
    // same norms, stack and norm: the same values) instead of a second pass
    // over the gradients and a host read.
    const torch::Tensor coefficient = (optimizer_config_.grad_clip / (grad_norm + 1e-6)).clamp_max(1.0);
    torch::NoGradGuard no_grad;
    for (const auto& p : online_->parameters()) {
      if (p.grad().defined()) p.grad().mul_(coefficient);
    }
  }
  adam_->step();
  if (!AllParametersFinite(*online_)) {
    Fail(ExitCode::kDiverged, "non-finite network parameters after step " + std::to_string(step_ + 1));
  }
  ++step_;
  PolyakUpdate(*online_, *target1_, bellman_.tau);
  if (step_ % bellman_.lag_steps == 0) CopyModuleState(*target1_, *target2_);
  return stats;
}

std::vector<torch::Tensor> QLearner::ReplicatedState() {
  std::vector<torch::Tensor> state;
  for (QNetworkImpl* network : {online_.get(), target1_.get(), target2_.get()}) {
    for (const auto& p : network->parameters()) state.push_back(p);
    for (const auto& b : network->buffers()) state.push_back(b);
  }
  return state;
}

void QLearner::Save(CheckpointContents* contents) {
  PutNetwork(*online_, "net.online", contents);
  PutNetwork(*target1_, "net.target1", contents);
  PutNetwork(*target2_, "net.target2", contents);
  contents->blobs["optim.adam"] = OptimizerToBytes(*adam_);
  contents->metadata["step"] = step_;
}

void QLearner::Load(const CheckpointContents& contents, const std::string& source) {
  LoadNetworkWeights(contents, "net.online", *online_, source);
  LoadNetworkWeights(contents, "net.target1", *target1_, source);
  LoadNetworkWeights(contents, "net.target2", *target2_, source);
  auto it = contents.blobs.find("optim.adam");
  if (it == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks the optimiser state");
  OptimizerFromBytes(*adam_, it->second, source);
  step_ = MetadataValue<int64_t>(contents.metadata, "step", -1, source);
  if (step_ < 0) Fail(ExitCode::kBadData, source + ": checkpoint lacks a valid 'step'");
}

void QLearner::InitFrom(const CheckpointContents& contents, const std::string& source) {
  LoadNetworkWeights(contents, "net.online", *online_, source);
  CopyModuleState(*online_, *target1_);
  CopyModuleState(*online_, *target2_);
  step_ = 0;
}

}  // namespace perpetua
