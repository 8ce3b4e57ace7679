// Random shift: every output image is its input translated by one offset in
// [-pad, pad] per axis with the border repeated; offsets differ between
// images and come only from the generator.
#include "nn/image_augment.h"

#include <doctest/doctest.h>

#include <set>
#include <utility>

namespace perpetua {
namespace {

// Images whose pixel (r, c) holds r * 16 + c in every channel (unique per pixel at 16x16).
torch::Tensor Ramp(int64_t b) {
  const torch::Tensor r = torch::arange(16, torch::kLong).view({16, 1}) * 16;
  const torch::Tensor c = torch::arange(16, torch::kLong).view({1, 16});
  return (r + c).to(torch::kUInt8).view({1, 16, 16, 1}).expand({b, 16, 16, 3}).contiguous();
}

TEST_CASE("RandomShift translates each image by one offset within pad and repeats the border") {
  auto gen = at::detail::createCPUGenerator(7);
  const int pad = 3;
  const torch::Tensor in = Ramp(64);
  const torch::Tensor out = RandomShift(in, pad, gen);
  REQUIRE(out.sizes() == in.sizes());
  REQUIRE(out.dtype() == torch::kUInt8);
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t i = 0; i < 64; ++i) {
    // The top-left interior pixel tells the offset; the whole image must match it.
    const int64_t v = out[i][pad][pad][0].item<int64_t>();
    const int64_t dy = v / 16 - pad, dx = v % 16 - pad;
    CHECK(std::abs(dy) <= pad);
    CHECK(std::abs(dx) <= pad);
    offsets.insert({dy, dx});
    for (int64_t r = 0; r < 16; ++r) {
      for (int64_t c = 0; c < 16; ++c) {
        const int64_t sr = std::clamp<int64_t>(r + dy, 0, 15), sc = std::clamp<int64_t>(c + dx, 0, 15);
        REQUIRE(out[i][r][c][2].item<int64_t>() == sr * 16 + sc);
      }
    }
  }
  CHECK(offsets.size() > 20);  // 49 possible offsets, 64 draws
}

TEST_CASE("RandomShift is a function of the generator state and pad 0 is the identity") {
  const torch::Tensor in = Ramp(8);
  auto a = at::detail::createCPUGenerator(11);
  auto b = at::detail::createCPUGenerator(11);
  CHECK(torch::equal(RandomShift(in, 4, a), RandomShift(in, 4, b)));
  auto c = at::detail::createCPUGenerator(12);
  CHECK_FALSE(torch::equal(RandomShift(in, 4, a), RandomShift(in, 4, c)));
  CHECK(torch::equal(RandomShift(in, 0, a), in));
  const torch::Tensor floats = in.to(torch::kFloat32);
  CHECK(RandomShift(floats, 2, a).dtype() == torch::kFloat32);
}

}  // namespace
}  // namespace perpetua
