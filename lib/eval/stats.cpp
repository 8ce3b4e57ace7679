#include "eval/stats.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/rng.h"

namespace perpetua {

Interval WilsonInterval(int64_t successes, int64_t trials, double z) {
  PERPETUA_CHECK(trials > 0 && successes >= 0 && successes <= trials);
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / n;
  const double center = (p + z2 / (2.0 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
  Interval interval;
  // Exact bounds at the edges (the formula gives them up to rounding).
  interval.low = successes == 0 ? 0.0 : std::max(0.0, center - half);
  interval.high = successes == trials ? 1.0 : std::min(1.0, center + half);
  return interval;
}

namespace {
// log of the Binomial(n, 1/2) probability mass at k.
double LogBinomialHalf(int64_t n, int64_t k) {
  return std::lgamma(double(n) + 1) - std::lgamma(double(k) + 1) - std::lgamma(double(n - k) + 1) -
         double(n) * std::log(2.0);
}
}  // namespace

McNemarResult McNemarExact(int64_t only_a, int64_t only_b) {
  PERPETUA_CHECK(only_a >= 0 && only_b >= 0);
  McNemarResult result;
  result.only_a = only_a;
  result.only_b = only_b;
  const int64_t n = only_a + only_b;
  if (n == 0) return result;  // no discordant pairs: no evidence either way
  const int64_t k = std::min(only_a, only_b);
  double tail = 0.0;  // P(X <= k), X ~ Binomial(n, 1/2)
  for (int64_t i = 0; i <= k; ++i) tail += std::exp(LogBinomialHalf(n, i));
  const double at_k = std::exp(LogBinomialHalf(n, k));
  result.p_exact = std::min(1.0, 2.0 * tail);
  result.p_mid = std::min(1.0, 2.0 * (tail - 0.5 * at_k));
  return result;
}

BootstrapResult PairedBootstrap(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                                int resamples, uint64_t seed, double confidence) {
  PERPETUA_CHECK(!a.empty() && a.size() == b.size());
  PERPETUA_CHECK(resamples > 0 && confidence > 0.0 && confidence < 1.0);
  const size_t n = a.size();
  // Per-pair difference in {-1, 0, 1}.
  std::vector<int> diff(n);
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    diff[i] = int(a[i] != 0) - int(b[i] != 0);
    total += diff[i];
  }
  BootstrapResult result;
  result.difference = double(total) / double(n);

  Rng rng(seed);
  std::vector<double> stats(resamples);
  int64_t non_positive = 0, non_negative = 0;
  for (int r = 0; r < resamples; ++r) {
    int64_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum += diff[rng.UniformInt(n)];
    stats[r] = double(sum) / double(n);
    if (sum <= 0) ++non_positive;
    if (sum >= 0) ++non_negative;
  }
  std::sort(stats.begin(), stats.end());
  const double alpha = 1.0 - confidence;
  auto quantile = [&](double q) {
    // Nearest-rank percentile on the sorted resamples.
    const double position = q * double(resamples - 1);
    const size_t lo = static_cast<size_t>(std::floor(position));
    const size_t hi = std::min(lo + 1, stats.size() - 1);
    const double t = position - double(lo);
    return stats[lo] * (1.0 - t) + stats[hi] * t;
  };
  result.interval.low = quantile(alpha / 2.0);
  result.interval.high = quantile(1.0 - alpha / 2.0);
  // Probability mass on the far side of zero from the observed difference.
  const int64_t far = result.difference > 0   ? non_positive
                      : result.difference < 0 ? non_negative
                                              : resamples;
  result.p_two_sided = std::min(1.0, 2.0 * double(far) / double(resamples));
  return result;
}

}  // namespace perpetua
