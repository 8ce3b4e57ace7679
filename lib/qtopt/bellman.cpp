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

namespace {

// MaximizeQ on a normalised image (QNetworkImpl::Normalize), inside InferenceMode.
torch::Tensor MaximizeNormalized(QNetworkImpl& network, const torch::Tensor& normalized, const torch::Tensor& proprio,
                                 const CemConfig& cem, at::Generator& generator, torch::Tensor* embedding_out) {
  const int64_t b = normalized.size(0);
  const torch::Tensor embedding = network.EmbedNormalized(normalized);  // [B,C,h,w], once per state
  if (embedding_out) *embedding_out = embedding;
  // The whole population of every state in one batched call per CEM round.
  const ActionScorer score = [&](const torch::Tensor& actions) { return network.Scores(embedding, proprio, actions); };
  return CemMaximize(cem, b, network.action_low().to(normalized.device()), network.action_high().to(normalized.device()),
                     score, generator);
}

}  // namespace

torch::Tensor MaximizeQ(QNetworkImpl& network, const torch::Tensor& image, const torch::Tensor& proprio,
                        const CemConfig& cem, at::Generator& generator, torch::Tensor* embedding_out) {
  c10::InferenceMode inference;
  return MaximizeNormalized(network, QNetworkImpl::Normalize(image), proprio, cem, generator, embedding_out);
}

torch::Tensor ComputeTargets(const TensorBatch& batch, QNetworkImpl& target1, QNetworkImpl& target2,
                             const CemConfig& cem, const BellmanConfig& bellman, at::Generator& generator,
                             TargetStats* stats) {
  torch::Tensor target;
  {
    c10::InferenceMode inference;
    // s' is converted once for both target networks.
    const torch::Tensor next = QNetworkImpl::Normalize(batch.next_image);
    torch::Tensor embedding;
    const torch::Tensor best = MaximizeNormalized(target1, next, batch.next_proprio, cem, generator, &embedding);
    // Head() of one action per state, through Scores' inference path.
    const torch::Tensor one = best.unsqueeze(1);
    const torch::Tensor q1 = torch::sigmoid(target1.Scores(embedding, batch.next_proprio, one).squeeze(1));
    const torch::Tensor q2 =
        torch::sigmoid(target2.Scores(target2.EmbedNormalized(next), batch.next_proprio, one).squeeze(1));
    const torch::Tensor value = torch::min(q1, q2);
    target = (batch.reward - bellman.step_penalty + bellman.gamma * (1.0 - batch.terminated) * value).clamp(0.0, 1.0);
    if (stats) {
      // One read of all three figures.
      const torch::Tensor figures =
          torch::stack({target.mean(), value.mean(), batch.terminated.mean()}).to(torch::kCPU).to(torch::kDouble);
      const double* f = figures.data_ptr<double>();
      stats->target_mean = f[0];
      stats->next_value_mean = f[1];
      stats->terminal_fraction = f[2];
    }
  }
  // An ordinary tensor: the loss saves its target for backward, which an
  // inference tensor may not be.
  return target.clone();
}

}  // namespace perpetua
