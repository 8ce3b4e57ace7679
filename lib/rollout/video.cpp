#include "rollout/video.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "common/error.h"
#include "common/fs.h"

namespace perpetua {
namespace {

void CheckImage(const Array& image, const char* what) {
  if (image.dtype != DType::kUint8 || image.shape.size() != 3 || image.shape[2] != 3 ||
      !image.Consistent()) {
    Fail(ExitCode::kUsage, std::string("video frame (") + what + ") must be [H, W, 3] uint8, got " +
                               DTypeName(image.dtype) + " " + ShapeString(image.shape));
  }
}

cv::Mat AsMat(const Array& image) {
  return cv::Mat(static_cast<int>(image.shape[0]), static_cast<int>(image.shape[1]), CV_8UC3,
                 const_cast<void*>(image.data()));
}

}  // namespace

Array ComposeVideoFrame(const Array& policy_view, const Array* larger_view, int min_height) {
  CheckImage(policy_view, "policy view");
  const int policy_h = static_cast<int>(policy_view.shape[0]);
  if (larger_view) CheckImage(*larger_view, "larger view");
  // Integer nearest-neighbour factors keep pixels crisp: the largest that fits
  // beside a larger view, else the smallest that reaches min_height.
  const int target_h = larger_view ? static_cast<int>(larger_view->shape[0]) : 0;
  const int factor = larger_view ? std::max(1, target_h / policy_h)
                                 : std::max(1, (min_height + policy_h - 1) / policy_h);
  cv::Mat scaled;
  cv::resize(AsMat(policy_view), scaled, cv::Size(), factor, factor, cv::INTER_NEAREST);
  const int large_w = larger_view ? static_cast<int>(larger_view->shape[1]) : 0;
  int height = std::max(scaled.rows, target_h);
  int width = scaled.cols + large_w;
  height += height % 2;
  width += width % 2;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(0, 0, 0));
  scaled.copyTo(canvas(cv::Rect(0, 0, scaled.cols, scaled.rows)));
  if (larger_view) {
    AsMat(*larger_view).copyTo(canvas(cv::Rect(scaled.cols, 0, large_w, target_h)));
  }
  Array out = Array::Zeros(DType::kUint8, {height, width, 3});
  std::memcpy(out.data(), canvas.data, out.u8.size());
  return out;
}

void WriteVideo(const std::string& path, const std::vector<Array>& frames, double fps) {
  if (frames.empty()) Fail(ExitCode::kUsage, path + ": a video needs at least one frame");
  for (const Array& frame : frames) CheckImage(frame, "frame");
  const std::vector<int64_t> shape = frames.front().shape;
  for (const Array& frame : frames) {
    if (frame.shape != shape) {
      Fail(ExitCode::kUsage, path + ": frames of mixed shapes " + ShapeString(shape) + " and " +
                                 ShapeString(frame.shape));
    }
  }
  // The container is chosen from the extension, so the temporary name ends in .mp4.
  const std::string temp = path + ".tmp-" + UniqueToken() + ".mp4";
  const cv::Size size(static_cast<int>(shape[1]), static_cast<int>(shape[0]));
  cv::VideoWriter writer;
  for (const char* codec : {"avc1", "mp4v"}) {
    const int fourcc = cv::VideoWriter::fourcc(codec[0], codec[1], codec[2], codec[3]);
    if (writer.open(temp, cv::CAP_FFMPEG, fourcc, fps, size)) break;
  }
  if (!writer.isOpened()) {
    ::unlink(temp.c_str());
    Fail(ExitCode::kIoError, path + ": cannot open an mp4 video writer (unwritable directory or "
                                    "no FFmpeg encoder in this OpenCV)");
  }
  cv::Mat bgr;
  for (const Array& frame : frames) {
    cv::cvtColor(AsMat(frame), bgr, cv::COLOR_RGB2BGR);
    writer.write(bgr);
  }
  writer.release();
  if (!IsRegularFile(temp)) Fail(ExitCode::kIoError, path + ": the video encoder wrote nothing");
  try {
    FsyncPath(temp);
    RenameDurably(temp, path);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

std::string RgbObservationKey(const EnvSpec& spec) {
  for (const auto& o : spec.observations) {
    if (o.dtype == DType::kUint8 && o.shape.size() == 3 && o.shape[2] == 3) return o.key;
  }
  return "";
}

std::vector<Array> UnstackFrames(const Array& stacked) {
  PERPETUA_CHECK(stacked.dtype == DType::kUint8 && stacked.shape.size() == 4 && stacked.Consistent());
  const int64_t frame_size = stacked.shape[0] > 0 ? stacked.NumElements() / stacked.shape[0] : 0;
  std::vector<Array> frames;
  for (int64_t t = 0; t < stacked.shape[0]; ++t) {
    Array frame = Array::Zeros(DType::kUint8, {stacked.shape[1], stacked.shape[2], stacked.shape[3]});
    std::copy_n(stacked.u8.begin() + t * frame_size, frame_size, frame.u8.begin());
    frames.push_back(std::move(frame));
  }
  return frames;
}

int CountVideoFrames(const std::string& path) {
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  if (!capture.isOpened()) return -1;
  int count = 0;
  cv::Mat frame;
  while (capture.read(frame)) ++count;
  return count;
}

}  // namespace perpetua
