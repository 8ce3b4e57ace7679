#include "tensorboard/event_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "tensorboard.pb.h"
#include "tensorboard/record_io.h"

namespace perpetua::tensorboard {
namespace {

using Clock = std::chrono::steady_clock;

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

std::string EventFileName() {
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%010lld",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()));
  return "events.out.tfevents." + std::string(stamp) + "." + HostName() + "." +
         std::to_string(getpid());
}

std::string EncodePng(const Array& image) {
  const cv::Mat rgb(static_cast<int>(image.shape[0]), static_cast<int>(image.shape[1]), CV_8UC3,
                    const_cast<uint8_t*>(image.u8.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> bytes;
  PERPETUA_CHECK(cv::imencode(".png", bgr, bytes));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

struct EventWriter::Impl {
  EventWriterOptions options;
  std::string path;
  int fd = -1;
  std::mutex mutex;
  std::string buffer;  // framed records not yet written
  Clock::time_point last_flush = Clock::now();
  std::string failure;  // the first I/O failure; non-empty: every call throws it

  void Append(Event& event, double wall_time, int64_t step) {
    event.set_wall_time(wall_time);
    event.set_step(step);
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure.empty()) Fail(ExitCode::kIoError, failure);
    buffer += FrameRecord(event.SerializeAsString());
    if (buffer.size() >= options.flush_bytes ||
        std::chrono::duration<double>(Clock::now() - last_flush).count() >= options.flush_seconds) {
      FlushLocked();
    }
  }

  void FlushLocked() {
    if (!failure.empty()) Fail(ExitCode::kIoError, failure);
    size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t n = write(fd, buffer.data() + done, buffer.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure = path + ": cannot write TensorBoard events: " + std::strerror(errno);
        Fail(ExitCode::kIoError, failure);
      }
      done += static_cast<size_t>(n);
    }
    buffer.clear();
    last_flush = Clock::now();
  }
};

EventWriter::EventWriter(const std::string& run_dir, EventWriterOptions options)
    : impl_(std::make_unique<Impl>()) {
  EnsureWritableDirectory(run_dir);
  impl_->options = options;
  const std::string base = run_dir + "/" + EventFileName();
  // A second writer of this process on this directory within the same second: ".1", ".2", ...
  for (int n = 0; impl_->fd < 0; ++n) {
    impl_->path = n == 0 ? base : base + "." + std::to_string(n);
    impl_->fd = open(impl_->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (impl_->fd < 0 && (errno != EEXIST || n == 1000)) break;
  }
  if (impl_->fd < 0) {
    Fail(ExitCode::kIoError,
         impl_->path + ": cannot create TensorBoard event file: " + std::strerror(errno));
  }
  Event event;
  event.set_file_version("brain.Event:2");
  event.set_wall_time(UnixSeconds());
  impl_->buffer = FrameRecord(event.SerializeAsString());
  impl_->FlushLocked();
}

EventWriter::~EventWriter() {
  if (!impl_) return;
  try {
    Flush();
  } catch (const Error& e) {
    LogWarning(e.what());
  }
  close(impl_->fd);
}

const std::string& EventWriter::path() const { return impl_->path; }

void EventWriter::AddScalar(const std::string& tag, int64_t step, double value,
                            double wall_time) {
  Event event;
  Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  impl_->Append(event, wall_time, step);
}

void EventWriter::AddImage(const std::string& tag, int64_t step, const Array& image,
                           double wall_time) {
  if (image.dtype != DType::kUint8 || image.shape.size() != 3 || image.shape[2] != 3 ||
      !image.Consistent()) {
    Fail(ExitCode::kUsage, "TensorBoard image " + tag + ": expected an [H, W, 3] uint8 image, got " +
                               std::string(DTypeName(image.dtype)) + " " +
                               ShapeString(image.shape));
  }
  Event event;
  Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  Summary::Image* png = v->mutable_image();
  png->set_height(static_cast<int32_t>(image.shape[0]));
  png->set_width(static_cast<int32_t>(image.shape[1]));
  png->set_colorspace(3);
  png->set_encoded_image_string(EncodePng(image));
  impl_->Append(event, wall_time, step);
}

void EventWriter::AddText(const std::string& tag, int64_t step, const std::string& text,
                          double wall_time) {
  Event event;
  Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  SummaryMetadata* metadata = v->mutable_metadata();
  metadata->mutable_plugin_data()->set_plugin_name("text");
  metadata->set_data_class(DATA_CLASS_TENSOR);
  TensorProto* tensor = v->mutable_tensor();
  tensor->set_dtype(DT_STRING);
  tensor->mutable_tensor_shape();  // rank 0: a scalar string
  tensor->add_string_val(text);
  impl_->Append(event, wall_time, step);
}

void EventWriter::Flush() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->FlushLocked();
}

}  // namespace perpetua::tensorboard
