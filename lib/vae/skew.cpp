#include "vae/skew.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace perpetua {

std::vector<double> SkewedProbabilities(const std::vector<double>& log_density, double alpha,
                                        const std::string& source) {
  if (!(alpha >= -1.0 && alpha <= 0.0)) {
    Fail(ExitCode::kUsage, "--vae.alpha must be in [-1, 0] (0: RIG), not " + std::to_string(alpha));
  }
  if (log_density.empty()) Fail(ExitCode::kUsage, source + ": no image to weigh");
  std::vector<double> logits(log_density.size());
  for (size_t i = 0; i < log_density.size(); ++i) {
    if (!std::isfinite(log_density[i])) {
      Fail(ExitCode::kBadData, source + ": non-finite density estimate of image " + std::to_string(i));
    }
    logits[i] = alpha * log_density[i];
  }
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (double& l : logits) sum += (l = std::exp(l - top));
  for (double& l : logits) l /= sum;
  return logits;
}

double EffectiveSampleSize(const std::vector<double>& probabilities) {
  double squares = 0.0;
  for (double p : probabilities) squares += p * p;
  return squares > 0.0 ? 1.0 / squares : 0.0;
}

double HistogramEntropy(const std::vector<int64_t>& counts) {
  double total = 0.0;
  for (int64_t c : counts) total += static_cast<double>(c);
  if (total <= 0.0) return 0.0;
  double entropy = 0.0;
  for (int64_t c : counts) {
    if (c > 0) entropy -= (c / total) * std::log(c / total);
  }
  return entropy;
}

void SkewedPool::Set(const std::vector<double>& log_density, double alpha, const std::string& source,
                     double min_ess) {
  if (!(min_ess >= 0.0 && min_ess <= 1.0)) Fail(ExitCode::kUsage, "the skew's minimum effective share must be in [0, 1]");
  probabilities_ = SkewedProbabilities(log_density, alpha, source);
  applied_alpha_ = alpha;
  const double floor = min_ess * static_cast<double>(log_density.size());
  if (EffectiveSampleSize(probabilities_) < floor) {
    double strong = alpha, weak = 0.0;  // the floor fails at `strong` and holds at `weak` (uniform)
    for (int i = 0; i < 40; ++i) {
      const double middle = 0.5 * (strong + weak);
      (EffectiveSampleSize(SkewedProbabilities(log_density, middle, source)) < floor ? strong : weak) = middle;
    }
    applied_alpha_ = weak;
    probabilities_ = SkewedProbabilities(log_density, weak, source);
  }
  log_density_ = log_density;
  cdf_.resize(probabilities_.size());
  double running = 0.0;
  for (size_t i = 0; i < probabilities_.size(); ++i) cdf_[i] = running += probabilities_[i];
}

std::vector<int64_t> SkewedPool::Draw(int64_t n, Rng& rng) const {
  std::vector<int64_t> indices(static_cast<size_t>(n));
  if (cdf_.empty()) Fail(ExitCode::kUsage, "skewed pool: drawn from before it was set");
  for (auto& index : indices) {
    const double u = rng.Uniform() * cdf_.back();
    index = std::min<int64_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin(), size() - 1);
  }
  return indices;
}

}  // namespace perpetua
