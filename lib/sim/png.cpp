#include "sim/png.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/fs.h"

namespace perpetua::sim {

void WritePng(const std::string& path, const Array& image, int scale) {
  if (image.dtype != DType::kUint8 || image.shape.size() != 3 || image.shape[2] != 3 ||
      !image.Consistent()) {
    Fail(ExitCode::kUsage, "WritePng " + path + ": expected an [H, W, 3] uint8 image, got " +
                               std::string(DTypeName(image.dtype)) + " " +
                               ShapeString(image.shape));
  }
  if (scale < 1) Fail(ExitCode::kUsage, "WritePng " + path + ": scale must be >= 1");
  const cv::Mat rgb(static_cast<int>(image.shape[0]), static_cast<int>(image.shape[1]), CV_8UC3,
                    const_cast<uint8_t*>(image.u8.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  if (scale > 1) cv::resize(bgr, bgr, cv::Size(), scale, scale, cv::INTER_NEAREST);
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", bgr, bytes)) Fail(ExitCode::kIoError, "cannot encode PNG " + path);
  WriteFileAtomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace perpetua::sim
