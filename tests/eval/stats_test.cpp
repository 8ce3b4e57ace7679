// Evaluation statistics against published values.
#include "eval/stats.h"

#include <cmath>

#include <doctest/doctest.h>

namespace perpetua {
namespace {

TEST_CASE("Wilson interval matches Newcombe 1998 table I") {
  // Newcombe, Statistics in Medicine 17:857-872 (1998), method 3 (score, no correction).
  struct Case {
    int64_t k, n;
    double low, high;
  };
  for (const Case c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605},
                       Case{0, 20, 0.0, 0.1611}, Case{1, 29, 0.0061, 0.1718}}) {
    CAPTURE(c.k);
    CAPTURE(c.n);
    const Interval interval = WilsonInterval(c.k, c.n);
    CHECK(std::abs(interval.low - c.low) < 6e-5);  // the table has 4 decimals
    CHECK(std::abs(interval.high - c.high) < 6e-5);
  }
}

TEST_CASE("Wilson interval is symmetric and exact at the edges") {
  const Interval half = WilsonInterval(5, 10);
  CHECK(half.low == doctest::Approx(0.236593).epsilon(1e-5));
  CHECK(half.high == doctest::Approx(1.0 - half.low));
  const Interval all = WilsonInterval(29, 29);
  CHECK(all.high == 1.0);
  CHECK(all.low == doctest::Approx(0.883030).epsilon(1e-5));
  const Interval none = WilsonInterval(0, 1);
  CHECK(none.low == 0.0);
  CHECK(none.high > 0.5);
}

TEST_CASE("McNemar exact and mid-p match Fagerland et al 2013") {
  // Fagerland, Lydersen, Laake, BMC Med Res Methodol 13:91 (2013): b = 1, c = 7
  // gives exact conditional p = 0.070 and mid-p = 0.039.
  const McNemarResult r = McNemarExact(1, 7);
  CHECK(r.p_exact == doctest::Approx(18.0 / 256.0));
  CHECK(r.p_mid == doctest::Approx(10.0 / 256.0));
  CHECK(McNemarExact(7, 1).p_exact == doctest::Approx(r.p_exact));  // symmetric
  CHECK(McNemarExact(0, 0).p_exact == 1.0);                         // no discordant pairs
  CHECK(McNemarExact(4, 4).p_exact == 1.0);
  CHECK(McNemarExact(0, 10).p_exact == doctest::Approx(2.0 / 1024.0));
  CHECK(McNemarExact(0, 10).p_mid == doctest::Approx(1.0 / 1024.0));
  // Large counts stay finite and small.
  CHECK(McNemarExact(100, 200).p_exact < 1e-7);
}

TEST_CASE("paired bootstrap is deterministic and agrees with the normal approximation") {
  std::vector<uint8_t> a, b;
  // 400 pairs: A succeeds on 60%, B on 45%, with 30% both.
  for (int i = 0; i < 400; ++i) {
    const int r = i % 20;
    a.push_back(r < 12 ? 1 : 0);
    b.push_back((r < 6 || (r >= 12 && r < 15)) ? 1 : 0);
  }
  const BootstrapResult first = PairedBootstrap(a, b, 4000, 7);
  const BootstrapResult again = PairedBootstrap(a, b, 4000, 7);
  CHECK(first.interval.low == again.interval.low);
  CHECK(first.interval.high == again.interval.high);
  CHECK(first.difference == doctest::Approx(0.15));
  // Paired differences: +1 on 30%, -1 on 15%, 0 otherwise: sd of the mean
  // = sqrt((0.45 - 0.15^2) / 400) = 0.0327; 95% half-width ~0.064.
  CHECK(first.interval.low == doctest::Approx(0.15 - 0.064).epsilon(0.1));
  CHECK(first.interval.high == doctest::Approx(0.15 + 0.064).epsilon(0.1));
  CHECK(first.p_two_sided < 0.01);
  // Identical policies: no difference, p = 1.
  const BootstrapResult same = PairedBootstrap(a, a, 500, 1);
  CHECK(same.difference == 0.0);
  CHECK(same.interval.low == 0.0);
  CHECK(same.interval.high == 0.0);
  CHECK(same.p_two_sided == 1.0);
}

}  // namespace
}  // namespace perpetua
