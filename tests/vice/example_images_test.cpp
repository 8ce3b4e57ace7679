// Example images of success: PNG and JPEG files, the last frames of
// successful episodes of real shards, and every way a folder can be wrong.
#include "vice/example_images.h"

#include <doctest/doctest.h>
#include <unistd.h>
#include <sys/stat.h>

#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "data/dataset_reader.h"
#include "sim/png.h"
#include "support/expect_error.h"
#include "vice/push_data.h"

namespace perpetua {
namespace {

using testing::ExpectError;
using testing::TempDir;

Array Gradient(int64_t h, int64_t w) {
  Array image = Array::Zeros(DType::kUint8, {h, w, 3});
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      image.u8[(y * w + x) * 3 + 0] = static_cast<uint8_t>(x * 8);
      image.u8[(y * w + x) * 3 + 1] = static_cast<uint8_t>(y * 8);
      image.u8[(y * w + x) * 3 + 2] = 77;
    }
  }
  return image;
}

TEST_CASE("PNG, JPEG and grey files read as RGB images") {
  TempDir tmp;
  const Array image = Gradient(8, 12);
  sim::WritePng(tmp / "a.png", image);
  CHECK(ReadImageFile(tmp / "a.png").u8 == image.u8);
  CHECK(ReadImageFile(tmp / "a.png").shape == std::vector<int64_t>{8, 12, 3});
  // JPEG is lossy: close, in RGB order (red grows along x, blue constant).
  cv::Mat bgr(8, 12, CV_8UC3);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 12; ++x) bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(77, static_cast<uint8_t>(y * 8), static_cast<uint8_t>(x * 8));
  }
  REQUIRE(cv::imwrite(tmp / "b.JPG", bgr, {cv::IMWRITE_JPEG_QUALITY, 100}));
  const Array jpeg = ReadImageFile(tmp / "b.JPG");
  REQUIRE(jpeg.shape == std::vector<int64_t>{8, 12, 3});
  for (size_t i = 0; i < jpeg.u8.size(); ++i) CHECK(std::abs(int(jpeg.u8[i]) - int(image.u8[i])) <= 6);
  cv::Mat grey(4, 4, CV_8UC1, cv::Scalar(123));
  REQUIRE(cv::imwrite(tmp / "g.png", grey));
  const Array g = ReadImageFile(tmp / "g.png");
  CHECK(g.shape == std::vector<int64_t>{4, 4, 3});
  for (uint8_t v : g.u8) CHECK(v == 123);
  CHECK(IsImageFileName("x.jpeg"));
  CHECK(IsImageFileName("X.PNG"));
  CHECK(!IsImageFileName("png"));
  CHECK(!IsImageFileName("notes.txt"));
}

TEST_CASE("bad example files: corrupt, truncated, empty, missing, a folder, too large") {
  TempDir tmp;
  sim::WritePng(tmp / "good.png", Gradient(8, 8));
  const std::string png = testing::ReadFile(tmp / "good.png");
  testing::WriteFile(tmp / "truncated.png", png.substr(0, png.size() / 2));
  testing::WriteFile(tmp / "garbage.jpg", std::string(300, 'x'));
  testing::WriteFile(tmp / "empty.png", "");
  for (const char* name : {"truncated.png", "garbage.jpg", "empty.png"}) {
    ExpectError([&] { ReadImageFile(tmp / name); }, ExitCode::kBadData,
                tmp / name + ": not a readable PNG or JPEG image");
  }
  ExpectError([&] { ReadImageFile(tmp / "missing.png"); }, ExitCode::kBadData, tmp / "missing.png");
  ::mkdir((tmp / "dir.png").c_str(), 0755);
  ExpectError([&] { ReadImageFile(tmp / "dir.png"); }, ExitCode::kBadData, tmp / "dir.png");
}

TEST_CASE("an example folder: sorted files of the data's size - every way it can be wrong") {
  TempDir tmp;
  ::mkdir((tmp / "ok").c_str(), 0755);
  sim::WritePng(tmp / "ok/b.png", Gradient(8, 8));
  sim::WritePng(tmp / "ok/a.png", Gradient(8, 8));
  testing::WriteFile(tmp / "ok/readme.txt", "not an image; ignored");
  const ExampleImages ok = LoadExamples(tmp / "ok", "image", 8, 8);
  CHECK(ok.names == std::vector<std::string>{tmp / "ok/a.png", tmp / "ok/b.png"});
  CHECK(ok.images.shape == std::vector<int64_t>{2, 8, 8, 3});
  CHECK(ImageRow(ok.images, 1).u8 == Gradient(8, 8).u8);

  ExpectError([&] { LoadExamples(tmp / "ok", "image", 16, 16); }, ExitCode::kBadData,
              tmp / "ok/a.png: the image is 8x8, the data's images are 16x16");
  ExpectError([&] { LoadExamples(tmp / "nowhere", "image", 8, 8); }, ExitCode::kBadData,
              tmp / "nowhere: not a folder of example images");
  ::mkdir((tmp / "empty").c_str(), 0755);
  ExpectError([&] { LoadExamples(tmp / "empty", "image", 8, 8); }, ExitCode::kBadData,
              tmp / "empty: no example images (*.png, *.jpg) and no shards in the folder");
  ::mkdir((tmp / "bad").c_str(), 0755);
  sim::WritePng(tmp / "bad/a.png", Gradient(8, 8));
  testing::WriteFile(tmp / "bad/b.png", "PNG? no");
  ExpectError([&] { LoadExamples(tmp / "bad", "image", 8, 8); }, ExitCode::kBadData,
              tmp / "bad/b.png: not a readable PNG or JPEG image");
  ::mkdir((tmp / "mixed").c_str(), 0755);
  sim::WritePng(tmp / "mixed/a.png", Gradient(8, 8));
  sim::WritePng(tmp / "mixed/b.png", Gradient(8, 10));
  ExpectError([&] { LoadExamples(tmp / "mixed", "image", 8, 8); }, ExitCode::kBadData,
              tmp / "mixed/b.png: the image is 8x10");
  if (::geteuid() != 0) {  // root reads anything
    ::mkdir((tmp / "locked").c_str(), 0000);
    ExpectError([&] { LoadExamples(tmp / "locked", "image", 8, 8); }, ExitCode::kBadData, tmp / "locked");
  }
}

TEST_CASE("success frames: the last frame of each successful episode of real shards, exported and read back") {
  TempDir tmp;
  testing::CollectPush(tmp / "scripted", "scripted", 6, 3, {"--env", "push", "--cell.image-size", "32"});
  testing::CollectPush(tmp / "random", "random", 4, 4);
  const ExampleImages frames = SuccessFrames({tmp / "scripted", tmp / "random"}, "", 0);
  DatasetReader reader({tmp / "scripted"});
  int64_t successes = 0;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode e = reader.ReadEpisode(i);
    if (!e.metadata.success) continue;
    const Array& images = e.observations.at("image");
    CHECK(ImageRow(frames.images, successes).u8 == ImageRow(images, images.shape[0] - 1).u8);
    ++successes;
  }
  CHECK(successes >= 5);  // the scripted push succeeds 99.5% of the time; random ones never count
  CHECK(frames.size() == successes);
  CHECK(frames.names[0].find("#") != std::string::npos);
  CHECK(SuccessFrames({tmp / "scripted"}, "image", 2).size() == 2);
  ExpectError([&] { SuccessFrames({tmp / "scripted"}, "depth", 2); }, ExitCode::kBadData,
              "the data has no image observation 'depth'");

  // A shard folder is a valid example folder; exported PNGs read back identical.
  const ExampleImages from_shards = LoadExamples(tmp / "scripted", "image", 32, 32);
  CHECK(from_shards.size() == successes);
  WriteExampleImages(frames, tmp / "examples");
  const ExampleImages back = LoadExamples(tmp / "examples", "image", 32, 32);
  CHECK(back.images.u8 == frames.images.u8);
  CHECK(back.names.front() == tmp / "examples/example-0000.png");
  ExpectError([&] { LoadExamples(tmp / "random", "image", 32, 32); }, ExitCode::kBadData,
              tmp / "random: no successful episode in the shards to take examples from");
  ExpectError([&] { LoadExamples(tmp / "scripted", "image", 64, 64); }, ExitCode::kBadData,
              "the examples are 32x32, the data's images are 64x64");
}

}  // namespace
}  // namespace perpetua
