#include "train/run_tensorboard.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "common/error.h"
#include "tensorboard/event_writer.h"

namespace perpetua {
namespace {

// Records wait for Commit(); this bounds what a run that checkpoints rarely holds in memory.
constexpr size_t kMaxPendingBytes = size_t{16} << 20;

// Adds the seconds from construction to destruction to `*total`.
class Timer {
 public:
  explicit Timer(double* total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Timer() { *total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  double* total_;
  std::chrono::steady_clock::time_point start_;
};

bool IsImageBatch(const Array& a) {
  return a.dtype == DType::kUint8 && a.shape.size() == 4 && a.shape[3] == 3;
}

}  // namespace

void TensorBoardConfig::Validate() const {
  if (image_every < 0) Fail(ExitCode::kUsage, "--tensorboard.image-every must be >= 0 (0: no images)");
  if (images < 1) Fail(ExitCode::kUsage, "--tensorboard.images must be >= 1");
}

ImageTap::ImageTap(BatchSource* inner, int count) : inner_(inner), count_(count) {}

TransitionBatch ImageTap::Sample(int batch_size, Rng& rng, int* online_count) {
  return SampleFor(batch_size, rng, online_count, {});
}

TransitionBatch ImageTap::SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) {
  TransitionBatch batch = inner_->SampleFor(batch_size, rng, online_count, request);
  if (!armed_.exchange(false)) return batch;
  std::vector<std::pair<std::string, Array>> images;
  for (const auto& [key, array] : batch.observations) {
    if (!IsImageBatch(array)) continue;
    const int64_t h = array.shape[1], w = array.shape[2];
    const size_t bytes = static_cast<size_t>(h * w * 3);
    for (int64_t i = 0; i < std::min<int64_t>(count_, array.shape[0]); ++i) {
      Array image = Array::Zeros(DType::kUint8, {h, w, 3});
      std::copy_n(array.u8.begin() + static_cast<std::ptrdiff_t>(i * bytes), bytes, image.u8.begin());
      images.emplace_back(key + "/" + std::to_string(i), std::move(image));
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  images_ = std::move(images);
  return batch;
}

void ImageTap::Arm() { armed_ = true; }

std::vector<std::pair<std::string, Array>> ImageTap::Take() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(images_, {});
}

RunTensorBoard::RunTensorBoard(const TensorBoardConfig& config, const std::string& dir, int64_t start_step,
                               const std::string& config_yaml)
    : config_(config) {
  if (!config.enabled) return;
  Timer timer(&seconds_);
  tensorboard::EventWriterOptions options;
  options.flush_seconds = std::numeric_limits<double>::infinity();
  options.flush_bytes = kMaxPendingBytes;
  writer_ = std::make_unique<tensorboard::EventWriter>(dir, options);
  writer_->AddText("config", start_step, "```yaml\n" + config_yaml + "\n```");
}

RunTensorBoard::~RunTensorBoard() = default;

bool RunTensorBoard::WantsImages(int64_t step) const {
  return writer_ && config_.image_every > 0 && step % config_.image_every == 0;
}

void RunTensorBoard::AddRow(int64_t step, const Row& learner_row, const Row& run_row) {
  if (!writer_) return;
  Timer timer(&seconds_);
  for (const auto& [name, value] : learner_row) writer_->AddScalar("learner/" + name, step, value);
  for (const auto& [name, value] : run_row) writer_->AddScalar("run/" + name, step, value);
}

void RunTensorBoard::AddImages(int64_t step, const std::vector<std::pair<std::string, Array>>& images) {
  if (!writer_) return;
  Timer timer(&seconds_);
  for (const auto& [name, image] : images) writer_->AddImage("observation/" + name, step, image);
}

void RunTensorBoard::Commit() {
  if (!writer_) return;
  Timer timer(&seconds_);
  writer_->Flush();
}

std::string RunTensorBoard::path() const { return writer_ ? writer_->path() : std::string(); }

}  // namespace perpetua
