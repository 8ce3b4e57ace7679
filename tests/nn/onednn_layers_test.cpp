// oneDNN's layers on dense memory give LibTorch's values (to float
// rounding): OneDnnLinear with its ReLU post-op, no bias, a given output
// slice and no rows; OneDnnConvRelu over strides, paddings, both memory
// formats and a primitive reused with new weights.
#include "nn/onednn_layers.h"

#include <doctest/doctest.h>

namespace perpetua {
namespace {

TEST_CASE("OneDnnLinear computes a linear layer, relu'd or not, on the tensors' own memory") {
  torch::manual_seed(4);
  c10::InferenceMode guard;
  const torch::Tensor x = torch::randn({300, 40});
  const torch::Tensor weight = torch::randn({7, 40});
  const torch::Tensor bias = torch::randn({7});
  REQUIRE(OneDnnUsable(x));
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

TEST_CASE("OneDnnConvRelu computes relu(conv2d) in channels-last memory") {
  torch::manual_seed(5);
  c10::InferenceMode guard;
  struct Case {
    int64_t batch, in, out, size, kernel, stride, padding;
    bool bias, channels_last;
  };
  for (const Case& k : {Case{1, 3, 16, 64, 5, 2, 2, true, true}, Case{7, 16, 8, 15, 3, 2, 1, true, false},
                        Case{2, 4, 6, 9, 3, 1, 0, false, true}, Case{3, 5, 5, 8, 1, 1, 0, true, false}}) {
    INFO("batch " << k.batch << ", " << k.in << "->" << k.out << ", kernel " << k.kernel << ", stride " << k.stride);
    torch::Tensor x = torch::randn({k.batch, k.in, k.size, k.size});
    if (k.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor weight = torch::randn({k.out, k.in, k.kernel, k.kernel});
    const torch::Tensor bias = k.bias ? torch::randn({k.out}) : torch::Tensor();
    const torch::Tensor expected =
        torch::relu(at::conv2d(x, weight, bias, {k.stride, k.stride}, {k.padding, k.padding}));
    const torch::Tensor y = OneDnnConvRelu(x, weight, bias, k.stride, k.padding);
    REQUIRE(y.sizes() == expected.sizes());
    CHECK(y.is_contiguous(at::MemoryFormat::ChannelsLast));
    CHECK(torch::allclose(y, expected, 1e-4, 1e-4));
    // The cached primitive with new weights (a training step changed them).
    weight.mul_(-0.5);
    CHECK(torch::allclose(OneDnnConvRelu(x, weight, bias, k.stride, k.padding),
                          torch::relu(at::conv2d(x, weight, bias, {k.stride, k.stride}, {k.padding, k.padding})), 1e-4,
                          1e-4));
  }
}

TEST_CASE("oneDNN's layers are not for autograd or other dtypes") {
  const torch::Tensor x = torch::randn({4, 3});
  {
    torch::NoGradGuard no_grad;
    CHECK(OneDnnUsable(x));
    CHECK_FALSE(OneDnnUsable(x.to(torch::kFloat64)));
  }
  CHECK_FALSE(OneDnnUsable(x));  // grad mode on: autograd needs at::linear
}

}  // namespace
}  // namespace perpetua
