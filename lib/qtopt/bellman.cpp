#include "qtopt/bellman.h"

#include <cmath>

#include "common/error.h"

namespace perpetua {
void BellmanConfig::Validate(const std::string& prefix) const {
  if (!(gamma >= 0.0 && gamma <= 1.0)) Fail(ExitCode::kUsage, "--" + prefix + ".gamma must be in [0, 1]");
  if (!(tau > 0.0 && tau <= 1.0)) Fail(ExitCode::kUsage, "--" + prefix + ".tau must be in (0, 1]");
  if (!std::isfinite(step_penalty)) Fail(ExitCode::kUsage, "--" + prefix + ".step-penalty must be finite");
  if (lag_steps < 1) Fail(ExitCode::kUsage, "--" + prefix + ".lag-steps must be >= 1");
}

torch::Tensor MaximizeQ(QNetworkImpl& network, const torch::Tensor& image, const torch::Tensor& proprio,
                        const CemConfig& cem, at::Generator& generator, torch::Tensor* embedding_out) {
  torch::NoGradGuard no_grad;
  const int64_t b = image.size(0);
  const int64_t n = cem.samples;
  const torch::Tensor embedding = network.Embed(image);  // [B,C,h,w], once per state
  if (embedding_out) *embedding_out = embedding;
  const auto& e = embedding.sizes();
  const torch::Tensor tiled = embedding.unsqueeze(1).expand({b, n, e[1], e[2], e[3]}).reshape({b * n, e[1], e[2], e[3]});
  const torch::Tensor tiled_proprio = proprio.unsqueeze(1).expand({b, n, proprio.size(1)}).reshape({b * n, proprio.size(1)});
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(image.device());
  const torch::Tensor low = torch::tensor(network.spec().action_low).to(options.device());
  const torch::Tensor high = torch::tensor(network.spec().action_high).to(options.device());
  const ActionScorer score = [&](const torch::Tensor& actions) {
    return network.Head(tiled, tiled_proprio, actions.reshape({b * n, -1})).view({b, n});
  };
  return CemMaximize(cem, b, low, high, score, generator);
}

torch::Tensor ComputeTargets(const TensorBatch& batch, QNetworkImpl& target1, QNetworkImpl& target2,
                             const CemConfig& cem, const BellmanConfig& bellman, at::Generator& generator,
                             TargetStats* stats) {
  torch::NoGradGuard no_grad;
  torch::Tensor embedding;
  const torch::Tensor best = MaximizeQ(target1, batch.next_image, batch.next_proprio, cem, generator, &embedding);
  const torch::Tensor q1 = torch::sigmoid(target1.Head(embedding, batch.next_proprio, best));
  const torch::Tensor q2 = torch::sigmoid(target2.forward(batch.next_image, batch.next_proprio, best));
  const torch::Tensor value = torch::min(q1, q2);
  const torch::Tensor target =
      (batch.reward - bellman.step_penalty + bellman.gamma * (1.0 - batch.terminated) * value).clamp(0.0, 1.0);
  if (stats) {
    stats->target_mean = target.mean().item<double>();
    stats->next_value_mean = value.mean().item<double>();
    stats->terminal_fraction = batch.terminated.mean().item<double>();
  }
  return target;
}

}  // namespace perpetua
