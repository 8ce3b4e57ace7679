// Statistics for evaluating robot policies from a finite number of trials:
// a confidence interval for a success rate and paired tests for comparing
// two policies run on the same episodes (same seeds, objects and poses).
// Pure functions of their arguments; randomness only through an explicit seed.
#pragma once

#include <cstdint>
#include <vector>

namespace perpetua {

// A two-sided interval [low, high] for a proportion, both in [0, 1].
struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// z for a two-sided 95% interval (the 0.975 normal quantile).
inline constexpr double kZ95 = 1.959963984540054;

// Wilson score interval (no continuity correction) for `successes` out of
// `trials`, at normal quantile `z`. Well behaved at 0 and `trials` successes
// where the Wald interval collapses. Requires 0 <= successes <= trials and
// trials > 0 (checked: a bug otherwise).
Interval WilsonInterval(int64_t successes, int64_t trials, double z = kZ95);

// McNemar's test on paired binary outcomes, from the discordant counts only:
// `only_a` pairs where A succeeded and B failed, `only_b` the reverse.
struct McNemarResult {
  int64_t only_a = 0;
  int64_t only_b = 0;
  double p_exact = 1.0;  // two-sided exact conditional (binomial) p-value
  double p_mid = 1.0;    // two-sided mid-p (less conservative; Fagerland et al. 2013)
};
McNemarResult McNemarExact(int64_t only_a, int64_t only_b);

// Paired bootstrap of the difference in success rate rate(A) - rate(B):
// resamples episode pairs with replacement `resamples` times.
struct BootstrapResult {
  double difference = 0.0;  // observed rate(A) - rate(B)
  Interval interval;        // percentile interval at `confidence` (may be negative: not a proportion)
  double p_two_sided = 1.0; // 2 x the fraction of resamples on the far side of 0 (capped at 1)
};
// `a` and `b` hold 0/1 outcomes of the same episodes (equal, non-zero sizes;
// checked). Same arguments, same result.
BootstrapResult PairedBootstrap(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                                int resamples, uint64_t seed, double confidence = 0.95);

}  // namespace perpetua
