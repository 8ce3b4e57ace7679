#include "qtopt/cem.h"

#include "common/error.h"
#include "nn/row_draws.h"

namespace perpetua {

void CemConfig::Validate(const std::string& prefix) const {
  if (iterations < 1) Fail(ExitCode::kUsage, "--" + prefix + ".iterations must be >= 1, got " + std::to_string(iterations));
  if (samples < 1) Fail(ExitCode::kUsage, "--" + prefix + ".samples must be >= 1, got " + std::to_string(samples));
  if (elites < 1 || elites > samples) {
    Fail(ExitCode::kUsage, "--" + prefix + ".elites must be in [1, samples=" + std::to_string(samples) +
                               "], got " + std::to_string(elites));
  }
  if (!(min_std >= 0.0)) Fail(ExitCode::kUsage, "--" + prefix + ".min-std must be >= 0");
}

torch::Tensor CemMaximize(const CemConfig& config, int64_t batch, const torch::Tensor& low,
                          const torch::Tensor& high, const ActionScorer& score,
                          at::Generator& generator) {
  c10::InferenceMode inference;
  const int64_t dim = low.size(0);
  const int64_t n = config.samples;
  const auto options = low.options();
  const torch::Tensor lo = low.view({1, 1, dim});
  const torch::Tensor hi = high.view({1, 1, dim});
  const torch::Tensor floor = ((high - low) * config.min_std).view({1, dim});
  torch::Tensor mean = ((low + high) * 0.5).view({1, dim}).expand({batch, dim}).clone();
  torch::Tensor std = ((high - low) * 0.5).view({1, dim}).expand({batch, dim}).clone();
  torch::Tensor best_action = mean.clone();
  torch::Tensor best_score = torch::full({batch}, -std::numeric_limits<float>::infinity(), options);
  for (int it = 0; it < config.iterations; ++it) {
    // Noise is drawn on the CPU generator so results match across devices.
    const torch::Tensor noise = RowRandn({batch, n, dim}, generator).to(options.device());
    // mean + std * noise, clamped to the box: in place, the same values.
    const torch::Tensor actions = noise.mul_(std.unsqueeze(1)).add_(mean.unsqueeze(1)).clamp_(lo, hi);
    const torch::Tensor scores = score(actions);  // [B,N]
    PERPETUA_CHECK(scores.dim() == 2 && scores.size(0) == batch && scores.size(1) == n);
    const auto top = scores.topk(config.elites, /*dim=*/1);
    const torch::Tensor top_scores = std::get<0>(top);  // [B,K]
    const torch::Tensor top_index = std::get<1>(top);   // [B,K]
    const torch::Tensor elites = actions.gather(1, top_index.unsqueeze(-1).expand({batch, config.elites, dim}));
    const torch::Tensor round_best = top_scores.select(1, 0);
    const torch::Tensor improved = round_best > best_score;
    best_action = torch::where(improved.unsqueeze(1), elites.select(1, 0), best_action);
    best_score = torch::where(improved, round_best, best_score);
    mean = elites.mean(1);
    std = config.elites > 1 ? torch::max(elites.std(1, /*unbiased=*/false), floor) : floor.expand({batch, dim}).clone();
  }
  return best_action;
}

}  // namespace perpetua
