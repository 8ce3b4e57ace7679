// Skew-Fit's sampling distribution on known densities: the weights, the
// draw, and the coverage it buys, measured as histogram entropy.
#include "vae/skew.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "support/expect_error.h"

namespace perpetua {
namespace {

TEST_CASE("skewed probabilities: p^alpha normalised, in log space") {
  const std::vector<double> uniform = SkewedProbabilities({-1.0, -2.0, -5.0}, 0.0, "pool");
  for (double p : uniform) CHECK(p == doctest::Approx(1.0 / 3));
  // alpha -1: proportional to 1/p. Log densities of thousands of nats (pixel sums) do not overflow.
  const std::vector<double> inverse = SkewedProbabilities({-5000.0, -5000.0 + std::log(3.0)}, -1.0, "pool");
  CHECK(inverse[0] == doctest::Approx(0.75));
  CHECK(inverse[1] == doctest::Approx(0.25));
  const std::vector<double> half = SkewedProbabilities({std::log(0.25), std::log(0.01)}, -0.5, "pool");
  CHECK(half[0] / half[1] == doctest::Approx(std::sqrt(0.01 / 0.25)));
  CHECK(EffectiveSampleSize(uniform) == doctest::Approx(3.0));
  CHECK(EffectiveSampleSize({1.0, 0.0}) == doctest::Approx(1.0));
}

TEST_CASE("skewed probabilities refuse a non-finite density, alpha outside [-1, 0] and an empty pool") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  testing::ExpectError(
      [&] {
        SkewedProbabilities({-1.0, nan}, -1.0, "pool");
      },
      ExitCode::kBadData, "pool: non-finite density estimate of image 1");
  testing::ExpectError(
      [&] {
        SkewedProbabilities({-1.0, -std::numeric_limits<double>::infinity()}, -1.0, "pool");
      },
      ExitCode::kBadData, "pool: non-finite density estimate of image 1");
  testing::ExpectError([&] { SkewedProbabilities({-1.0}, 0.5, "pool"); }, ExitCode::kUsage,
                       "--vae.alpha must be in [-1, 0]");
  testing::ExpectError([&] { SkewedProbabilities({-1.0}, nan, "pool"); }, ExitCode::kUsage,
                       "--vae.alpha must be in [-1, 0]");
  testing::ExpectError([&] { SkewedProbabilities({}, -1.0, "pool"); }, ExitCode::kUsage, "pool: no image to weigh");
}

TEST_CASE("a tempered skew keeps a floor on the effective sample size, and still favours the rare image") {
  // 99 common images and one whose estimated density is 60 nats lower: p^-1 puts all the weight on it.
  std::vector<double> log_density(100, -6000.0);
  log_density[7] = -6060.0;
  SkewedPool pure;
  pure.Set(log_density, -1.0, "pool");
  CHECK(EffectiveSampleSize(pure.probabilities()) < 1.01);
  CHECK(pure.applied_alpha() == -1.0);
  SkewedPool tempered;
  tempered.Set(log_density, -1.0, "pool", 0.5);
  CHECK(EffectiveSampleSize(tempered.probabilities()) >= 50.0);
  CHECK(EffectiveSampleSize(tempered.probabilities()) < 51.0);  // tempered no further than the floor needs
  CHECK(tempered.applied_alpha() < 0.0);
  CHECK(tempered.applied_alpha() > -1.0);
  CHECK(tempered.probabilities()[7] > 2 * tempered.probabilities()[0]);
  // A skew already above the floor is left alone.
  SkewedPool mild;
  mild.Set({-1.0, -1.5, -2.0}, -1.0, "pool", 0.5);
  CHECK(mild.applied_alpha() == -1.0);
  testing::ExpectError([&] { tempered.Set(log_density, -1.0, "pool", 1.5); }, ExitCode::kUsage,
                       "the skew's minimum effective share must be in [0, 1]");
}

TEST_CASE("drawing from a known mixture: alpha < 0 flattens the histogram, alpha 0 keeps it") {
  // A pool of 1000 images of three kinds seen 80%, 15% and 5% of the time, each weighed by its kind's
  // true density.
  const std::vector<double> share = {0.80, 0.15, 0.05};
  std::vector<int> kind;
  std::vector<double> log_density;
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < static_cast<int>(share[k] * 1000); ++i) {
      kind.push_back(k);
      log_density.push_back(std::log(share[k]));
    }
  }
  const auto histogram = [&](double alpha) {
    SkewedPool pool;
    pool.Set(log_density, alpha, "pool");
    Rng rng(3);
    std::vector<int64_t> counts(3, 0);
    for (int64_t index : pool.Draw(20000, rng)) ++counts[kind[index]];
    return counts;
  };
  const double data_entropy = HistogramEntropy({800, 150, 50});
  const double rig = HistogramEntropy(histogram(0.0));
  const double half = HistogramEntropy(histogram(-0.5));
  const double full = HistogramEntropy(histogram(-1.0));
  CHECK(rig == doctest::Approx(data_entropy).epsilon(0.03));
  CHECK(half > 1.3 * data_entropy);
  CHECK(full > half);
  CHECK(full == doctest::Approx(std::log(3.0)).epsilon(0.01));  // alpha -1 on true densities: uniform over kinds
  // The same Rng state draws the same indices.
  SkewedPool pool;
  pool.Set(log_density, -1.0, "pool");
  Rng a(9), b(9);
  CHECK(pool.Draw(50, a) == pool.Draw(50, b));
  SkewedPool unset;
  testing::ExpectError([&] { unset.Draw(1, a); }, ExitCode::kUsage, "drawn from before it was set");
}

TEST_CASE("histogram entropy in nats") {
  CHECK(HistogramEntropy({5, 5}) == doctest::Approx(std::log(2.0)));
  CHECK(HistogramEntropy({7, 0, 0}) == 0.0);
  CHECK(HistogramEntropy({0, 0}) == 0.0);
  CHECK(HistogramEntropy({}) == 0.0);
}

}  // namespace
}  // namespace perpetua
