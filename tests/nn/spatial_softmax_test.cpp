// Spatial softmax: keypoints are the expected positions of each channel's
// feature on a [-1,1] grid, x values first.
#include "nn/spatial_softmax.h"

#include <doctest/doctest.h>

#include <cmath>

namespace perpetua {
namespace {

TEST_CASE("a spatial softmax finds where each channel's feature is") {
  // Channel 0 peaks at row 1, column 6 of an 8x8 map; channel 1 at row 7, column 0.
  torch::Tensor features = torch::zeros({1, 2, 8, 8});
  features.index_put_({0, 0, 1, 6}, 50.0f);
  features.index_put_({0, 1, 7, 0}, 50.0f);
  const torch::Tensor keypoints = SpatialSoftmax(features, torch::zeros({1}));
  REQUIRE(keypoints.sizes() == torch::IntArrayRef({1, 4}));
  const auto at = [](int cell) { return -1.0 + 2.0 * cell / 7.0; };
  CHECK(keypoints[0][0].item<double>() == doctest::Approx(at(6)).epsilon(1e-4));  // x of channel 0
  CHECK(keypoints[0][1].item<double>() == doctest::Approx(at(0)).epsilon(1e-4));  // x of channel 1
  CHECK(keypoints[0][2].item<double>() == doctest::Approx(at(1)).epsilon(1e-4));  // y of channel 0
  CHECK(keypoints[0][3].item<double>() == doctest::Approx(at(7)).epsilon(1e-4));  // y of channel 1
  // A flat map is the centre; a high temperature flattens the peak toward it.
  CHECK(SpatialSoftmax(torch::zeros({1, 1, 5, 5}), torch::zeros({1})).abs().max().item<double>() < 1e-6);
  const torch::Tensor soft = SpatialSoftmax(features, torch::full({1}, 10.0f));
  CHECK(std::abs(soft[0][0].item<double>()) < 0.1);
}

}  // namespace
}  // namespace perpetua
