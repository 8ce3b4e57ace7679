// Episode videos: composed frames and mp4 files that OpenCV reads back.
#include "rollout/video.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

Array Image(int h, int w, uint8_t value) {
  Array image = Array::Zeros(DType::kUint8, {h, w, 3});
  for (auto& v : image.u8) v = value;
  return image;
}

TEST_CASE("the policy view is scaled beside the larger view") {
  const Array small = Image(64, 64, 10);
  const Array large = Image(256, 320, 200);
  const Array frame = ComposeVideoFrame(small, &large);
  CHECK(frame.shape == std::vector<int64_t>{256, 256 + 320, 3});
  CHECK(frame.u8[0] == 10);                  // top-left: the policy view, scaled x4
  CHECK(frame.u8[(255 * 576 + 255) * 3] == 10);
  CHECK(frame.u8[(0 * 576 + 256) * 3] == 200);  // right: the larger view
  const Array alone = ComposeVideoFrame(Image(48, 48, 7), nullptr);
  CHECK(alone.shape == std::vector<int64_t>{288, 288, 3});  // x6: the first factor reaching 256 rows
  const Array odd = ComposeVideoFrame(Image(5, 7, 1), nullptr, /*min_height=*/5);
  CHECK(odd.shape == std::vector<int64_t>{6, 8, 3});  // padded to even sizes for the encoder
  CHECK_THROWS_WITH_AS(ComposeVideoFrame(Array::Zeros(DType::kFloat32, {4, 4, 3}), nullptr),
                       "video frame (policy view) must be [H, W, 3] uint8, got float32 [4, 4, 3]",
                       Error);
}

TEST_CASE("a written video decodes to the expected number of frames") {
  testing::TempDir dir;
  std::vector<Array> frames;
  for (int i = 0; i < 21; ++i) frames.push_back(ComposeVideoFrame(Image(64, 64, uint8_t(i * 10)), nullptr));
  WriteVideo(dir / "episode.mp4", frames, 10.0);
  CHECK(CountVideoFrames(dir / "episode.mp4") == 21);
  CHECK(testing::ListFiles(dir.path()) == std::vector<std::string>{"episode.mp4"});  // no temp left
  CHECK(CountVideoFrames(dir / "missing.mp4") == -1);
}

TEST_CASE("video errors name the file") {
  testing::TempDir dir;
  CHECK_THROWS_WITH_AS(WriteVideo(dir / "e.mp4", {}, 10.0), (dir / "e.mp4" + ": a video needs at least one frame").c_str(), Error);
  CHECK_THROWS_AS(WriteVideo(dir / "e.mp4", {Image(8, 8, 0), Image(16, 8, 0)}, 10.0), Error);
  try {
    WriteVideo("/nonexistent-dir/e.mp4", {Image(8, 8, 0)}, 10.0);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kIoError);
    CHECK(std::string(e.what()).rfind("/nonexistent-dir/e.mp4: ", 0) == 0);
  }
}

}  // namespace
}  // namespace perpetua
