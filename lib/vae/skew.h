// Skew-Fit's sampling distribution over a finite pool of images, and the
// coverage figure it is judged by. Torch-free.
//
//   SkewedProbabilities(log_p, alpha)   p_i^alpha / sum_j p_j^alpha
//                                      (alpha = 0: uniform; alpha < 0: rare images weigh more)
//   SkewedPool pool; pool.Set(log_p, alpha); pool.Draw(n, rng)   indices into the pool
//   HistogramEntropy(counts)           entropy (nats) of a histogram
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"

namespace perpetua {

// The normalised weights p_i^alpha of `log_density` (natural logs), computed
// in log space (no overflow for log densities of thousands of nats). alpha
// in [-1, 0]. Throws Error(kBadData) "<source>: non-finite density estimate
// of image I" when an entry is NaN or infinite, and Error(kUsage) for
// alpha outside [-1, 0] or an empty pool.
std::vector<double> SkewedProbabilities(const std::vector<double>& log_density, double alpha,
                                        const std::string& source);

// Effective sample size of normalised weights, 1 / sum w^2, in [1, n]:
// how many images the skewed distribution really draws from.
double EffectiveSampleSize(const std::vector<double>& probabilities);

// Entropy in nats of a histogram of counts (bins with 0 count contribute 0;
// all-zero counts give 0).
double HistogramEntropy(const std::vector<int64_t>& counts);

// A pool's sampling distribution: draws indices with the skewed probabilities
// by inverse-CDF lookup (one Uniform() per draw, so the same Rng state gives
// the same indices).
class SkewedPool {
 public:
  // Replaces the distribution (see SkewedProbabilities for errors). With
  // `min_ess` in (0, 1], a skew whose effective sample size would fall below
  // that share of the pool is tempered: the exponent moves from alpha toward
  // 0 (bisection) until it holds, so that a few images of extreme density
  // cannot take all the weight. 0: p^alpha as it is (rlkit).
  void Set(const std::vector<double>& log_density, double alpha, const std::string& source, double min_ess = 0.0);
  // The exponent the probabilities were computed with (alpha unless tempered).
  double applied_alpha() const { return applied_alpha_; }
  // `n` indices in [0, size()).
  std::vector<int64_t> Draw(int64_t n, Rng& rng) const;
  int64_t size() const { return static_cast<int64_t>(probabilities_.size()); }
  const std::vector<double>& probabilities() const { return probabilities_; }
  const std::vector<double>& log_density() const { return log_density_; }

 private:
  std::vector<double> log_density_, probabilities_, cdf_;
  double applied_alpha_ = 0.0;
};

}  // namespace perpetua
