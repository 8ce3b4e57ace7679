#include "common/rng.h"

#include <doctest/doctest.h>

#include <cmath>
#include <set>

namespace perpetua {

TEST_CASE("same seed gives the same stream and different seeds differ") {
  Rng a(5), b(5), c(6);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    CHECK(x == b.NextU64());
    CHECK(x != c.NextU64());
  }
}

TEST_CASE("golden values pin the generator across builds") {
  Rng rng(42);
  // If these change, every recorded seed in every dataset changes meaning.
  CHECK(Mix64(0) == 0xe220a8397b1dcdafULL);
  const uint64_t first = rng.NextU64();
  Rng again(42);
  CHECK(again.NextU64() == first);
  CHECK(DeriveSeed(1, 2, 3) != DeriveSeed(1, 3, 2));
}

TEST_CASE("uniform, integer and normal draws have the right ranges and moments") {
  Rng rng(1);
  double sum = 0, sum_sq = 0;
  const int n = 20000;
  std::set<uint64_t> seen;
  for (int i = 0; i < n; ++i) {
    const double u = rng.Uniform();
    CHECK(u >= 0.0);
    CHECK(u < 1.0);
    const uint64_t k = rng.UniformInt(7);
    CHECK(k < 7);
    seen.insert(k);
    const double z = rng.Normal();
    sum += z;
    sum_sq += z * z;
  }
  CHECK(seen.size() == 7);
  CHECK(std::abs(sum / n) < 0.05);
  CHECK(std::abs(sum_sq / n - 1.0) < 0.05);
}

TEST_CASE("state save and restore continues the stream exactly") {
  Rng rng(9);
  rng.NextU64();
  uint64_t state[4];
  rng.GetState(state);
  const uint64_t expected = rng.NextU64();
  Rng other(0);
  other.SetState(state);
  CHECK(other.NextU64() == expected);
}

}  // namespace perpetua
