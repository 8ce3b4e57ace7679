// CEM finds the maximum of known functions, respects the box, and is
// deterministic given its generator.
#include "qtopt/cem.h"

#include <doctest/doctest.h>

#include "common/error.h"

namespace perpetua {
namespace {

TEST_CASE("CEM finds the maximum of a concave quadratic per state") {
  // Two states with different optima inside [-1,1]^3.
  const torch::Tensor optimum = torch::tensor({{0.3f, -0.5f, 0.8f}, {-0.7f, 0.1f, 0.0f}});
  const ActionScorer score = [&](const torch::Tensor& a) {  // a [2,N,3]
    return -(a - optimum.unsqueeze(1)).pow(2).sum(-1);
  };
  CemConfig config;
  config.iterations = 6;
  config.samples = 64;
  config.elites = 6;
  config.min_std = 0.001;
  at::Generator gen = at::detail::createCPUGenerator(42);
  const torch::Tensor best =
      CemMaximize(config, 2, torch::full({3}, -1.0f), torch::full({3}, 1.0f), score, gen);
  CHECK(best.sizes() == torch::IntArrayRef({2, 3}));
  CHECK((best - optimum).abs().max().item<float>() < 0.05f);
}

TEST_CASE("CEM stays in the box when the optimum lies outside it") {
  const ActionScorer score = [](const torch::Tensor& a) { return a.select(-1, 0) * 10 - a.select(-1, 1).abs(); };
  CemConfig config;  // the defaults QT-Opt uses
  at::Generator gen = at::detail::createCPUGenerator(1);
  const torch::Tensor best = CemMaximize(config, 4, torch::tensor({-2.0f, -1.0f}),
                                         torch::tensor({0.5f, 1.0f}), score, gen);
  CHECK(best.select(1, 0).min().item<float>() > 0.45f);
  CHECK(best.select(1, 0).max().item<float>() <= 0.5f);
  CHECK(best.select(1, 1).abs().max().item<float>() < 0.3f);
}

TEST_CASE("CEM is deterministic given the generator seed") {
  const ActionScorer score = [](const torch::Tensor& a) { return -a.pow(2).sum(-1); };
  CemConfig config;
  at::Generator g1 = at::detail::createCPUGenerator(5);
  at::Generator g2 = at::detail::createCPUGenerator(5);
  const auto lo = torch::full({4}, -1.0f), hi = torch::full({4}, 1.0f);
  CHECK(torch::equal(CemMaximize(config, 3, lo, hi, score, g1), CemMaximize(config, 3, lo, hi, score, g2)));
}

TEST_CASE("CEM config errors name the flag") {
  CemConfig config;
  config.elites = 100;
  try {
    config.Validate("cem");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kUsage);
    CHECK(std::string(e.what()) == "--cem.elites must be in [1, samples=64], got 100");
  }
}

}  // namespace
}  // namespace perpetua
