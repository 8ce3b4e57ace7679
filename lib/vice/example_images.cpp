#include "vice/example_images.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "common/error.h"
#include "common/fs.h"
#include "data/dataset_reader.h"
#include "sim/png.h"

namespace perpetua {
namespace {

constexpr uint64_t kMaxImageBytes = 64ull << 20;

std::string SizeText(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

// Appends [H,W,3] `image` to the stacked [N,H,W,3] `into`.
void AppendImage(ExampleImages& into, const Array& image, const std::string& name) {
  if (into.names.empty()) {
    into.images = Array::Zeros(DType::kUint8, {0, image.shape[0], image.shape[1], 3});
  }
  into.images.shape[0] += 1;
  into.images.u8.insert(into.images.u8.end(), image.u8.begin(), image.u8.end());
  into.names.push_back(name);
}

// cv::imdecode, with libpng's and libjpeg's own messages about a damaged
// file ("PNG input buffer is incomplete") kept off stderr: the caller reports
// the failure in one line of its own. Standard error is pointed at /dev/null
// for the call (a line another thread logs meanwhile is lost; image files are
// read before a run's threads start).
cv::Mat DecodeQuietly(const std::string& bytes) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat image = cv::imdecode(raw, cv::IMREAD_COLOR);
  std::fflush(stderr);
  if (saved >= 0 && null >= 0) ::dup2(saved, STDERR_FILENO);
  if (null >= 0) ::close(null);
  if (saved >= 0) ::close(saved);
  return image;
}

}  // namespace

bool IsImageFileName(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ext : {".png", ".jpg", ".jpeg"}) {
    const size_t n = std::strlen(ext);
    if (lower.size() > n && lower.compare(lower.size() - n, n, ext) == 0) return true;
  }
  return false;
}

Array ReadImageFile(const std::string& path) {
  const std::string bytes = ReadFileOrFail(path, ExitCode::kBadData, kMaxImageBytes);
  cv::Mat bgr;
  if (!bytes.empty()) bgr = DecodeQuietly(bytes);
  if (bgr.empty() || bgr.type() != CV_8UC3) Fail(ExitCode::kBadData, path + ": not a readable PNG or JPEG image");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Array image = Array::Zeros(DType::kUint8, {rgb.rows, rgb.cols, 3});
  for (int r = 0; r < rgb.rows; ++r) {
    std::memcpy(image.u8.data() + static_cast<size_t>(r) * rgb.cols * 3, rgb.ptr(r), static_cast<size_t>(rgb.cols) * 3);
  }
  return image;
}

Array ImageRow(const Array& stacked, int64_t i) {
  PERPETUA_CHECK(stacked.dtype == DType::kUint8 && !stacked.shape.empty() && i >= 0 && i < stacked.shape[0]);
  Array row;
  row.dtype = DType::kUint8;
  row.shape.assign(stacked.shape.begin() + 1, stacked.shape.end());
  const int64_t n = row.NumElements();
  row.u8.assign(stacked.u8.begin() + i * n, stacked.u8.begin() + (i + 1) * n);
  return row;
}

ExampleImages SuccessFrames(const std::vector<std::string>& data, const std::string& image_key, int64_t count) {
  DatasetReader reader(data, /*allow_empty=*/true);
  std::string key = image_key;
  if (reader.has_schema()) {
    const auto& observations = reader.schema().observations;
    if (key.empty()) {
      for (const auto& [name, spec] : observations) {
        if (spec.dtype != DType::kUint8 || spec.shape.size() != 3 || spec.shape[2] != 3) continue;
        if (!key.empty()) {
          Fail(ExitCode::kBadData, data.front() + ": the data has several images ('" + key + "' and '" + name +
                                       "'): choose one with --image-key");
        }
        key = name;
      }
      if (key.empty()) Fail(ExitCode::kBadData, data.front() + ": the data has no [H,W,3] uint8 image observation");
    }
    const auto it = observations.find(key);
    if (it == observations.end() || it->second.dtype != DType::kUint8 || it->second.shape.size() != 3 ||
        it->second.shape[2] != 3) {
      Fail(ExitCode::kBadData, data.front() + ": the data has no image observation '" + key + "'");
    }
  }
  ExampleImages out;
  for (size_t i = 0; i < reader.num_episodes() && (count <= 0 || out.size() < count); ++i) {
    const Episode episode = reader.ReadEpisode(i);
    if (!episode.metadata.success) continue;
    const Array& frames = episode.observations.at(key);
    const EpisodeRef ref = reader.episode(i);
    AppendImage(out, ImageRow(frames, frames.shape[0] - 1), ref.file + "#" + ref.name);
  }
  return out;
}

ExampleImages LoadExamples(const std::string& dir, const std::string& image_key, int64_t height, int64_t width) {
  if (!IsDirectory(dir)) Fail(ExitCode::kBadData, dir + ": not a folder of example images (" + AccessProblem(dir) + ")");
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (IsImageFileName(entry.path().filename().string())) files.push_back(entry.path().string());
  }
  if (ec) Fail(ExitCode::kBadData, dir + ": cannot list the example images: " + ec.message());
  std::sort(files.begin(), files.end());
  ExampleImages out;
  if (files.empty()) {
    if (ListShards(dir).empty()) {
      Fail(ExitCode::kBadData, dir + ": no example images (*.png, *.jpg) and no shards in the folder");
    }
    out = SuccessFrames({dir}, image_key, 0);
    if (out.size() == 0) Fail(ExitCode::kBadData, dir + ": no successful episode in the shards to take examples from");
    if (out.images.shape[1] != height || out.images.shape[2] != width) {
      Fail(ExitCode::kBadData, dir + ": the examples are " + SizeText(out.images.shape[1], out.images.shape[2]) +
                                   ", the data's images are " + SizeText(height, width));
    }
  } else {
    for (const auto& file : files) {
      const Array image = ReadImageFile(file);
      if (image.shape[0] != height || image.shape[1] != width) {
        Fail(ExitCode::kBadData, file + ": the image is " + SizeText(image.shape[0], image.shape[1]) +
                                     ", the data's images are " + SizeText(height, width));
      }
      AppendImage(out, image, file);
    }
  }
  return out;
}

void WriteExampleImages(const ExampleImages& examples, const std::string& dir) {
  EnsureWritableDirectory(dir);
  for (int64_t i = 0; i < examples.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "example-%04lld.png", static_cast<long long>(i));
    sim::WritePng(dir + "/" + name, ImageRow(examples.images, i));
  }
}

}  // namespace perpetua
