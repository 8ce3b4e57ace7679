// OneDnnLinear: oneDNN's matmul on dense memory gives at::linear's values
// (to float rounding), with its ReLU post-op, no bias, a given output slice
// and no rows.
#include "nn/onednn_linear.h"

#include <doctest/doctest.h>

namespace perpetua {
namespace {

TEST_CASE("OneDnnLinear computes a linear layer, relu'd or not, on the tensors' own memory") {
  torch::manual_seed(4);
  c10::InferenceMode guard;
  const torch::Tensor x = torch::randn({300, 40});
  const torch::Tensor weight = torch::randn({7, 40});
  const torch::Tensor bias = torch::randn({7});
  REQUIRE(OneDnnLinearUsable(x));
  const torch::Tensor expected = at::linear(x, weight, bias);
  CHECK(torch::allclose(OneDnnLinear(x, weight, bias, false), expected, 1e-4, 1e-5));
  CHECK(torch::allclose(OneDnnLinear(x, weight, bias, true), expected.relu(), 1e-4, 1e-5));
  CHECK(torch::allclose(OneDnnLinear(x, weight, torch::Tensor(), false), at::linear(x, weight), 1e-4, 1e-5));
  // Into rows 100..199 of a larger output; the other rows are untouched.
  torch::Tensor out = torch::full({300, 7}, 5.0f);
  OneDnnLinear(x.slice(0, 100, 200), weight, bias, true, out.slice(0, 100, 200));
  CHECK(torch::allclose(out.slice(0, 100, 200), expected.slice(0, 100, 200).relu(), 1e-4, 1e-5));
  CHECK(torch::equal(out.slice(0, 0, 100), torch::full({100, 7}, 5.0f)));
  CHECK(torch::equal(out.slice(0, 200), torch::full({100, 7}, 5.0f)));
  // Repeated calls of one shape reuse the cached primitive and agree.
  CHECK(torch::equal(OneDnnLinear(x, weight, bias, true), OneDnnLinear(x, weight, bias, true)));
  CHECK(OneDnnLinear(torch::zeros({0, 40}), weight, bias, false).sizes() == torch::IntArrayRef({0, 7}));
}

TEST_CASE("OneDnnLinear is not for autograd or other dtypes") {
  const torch::Tensor x = torch::randn({4, 3});
  {
    torch::NoGradGuard no_grad;
    CHECK(OneDnnLinearUsable(x));
    CHECK_FALSE(OneDnnLinearUsable(x.to(torch::kFloat64)));
  }
  CHECK_FALSE(OneDnnLinearUsable(x));  // grad mode on: autograd needs at::linear
}

}  // namespace
}  // namespace perpetua
