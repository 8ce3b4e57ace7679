#include "qtopt/target_pipeline.h"

#include <chrono>

#include "common/cli.h"
#include "common/error.h"
#include "common/flag_check.h"
#include "common/log.h"
#include "nn/image_augment.h"
#include "nn/tensor_io.h"
#include "dist/dist_config.h"
#include "qtopt/remote_targets.h"

namespace perpetua {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

struct TargetPipeline::Snapshot {
  QNetwork target1{nullptr}, target2{nullptr};
};

void AugmentConfig::Validate(const std::string& prefix) const {
  if (shift < 0 || shift > 16) {
    Fail(ExitCode::kUsage, "--" + prefix + ".shift must be in [0, 16], got " + std::to_string(shift));
  }
}

void TargetWorkerConfig::Validate(const std::string& prefix) const {
  if (count < 0) Fail(ExitCode::kUsage, "--" + prefix + ".count must be >= 0, got " + std::to_string(count));
  if (!listen.empty()) {
    ParseTcpAddress(listen, FlagName(prefix + ".listen"));
    RequireFlag(count >= 1, prefix, "listen", "needs " + FlagName(prefix + ".count") + " >= 1 worker processes");
  }
  RequireFlag(timeout_s > 0.0, prefix, "timeout_s", "must be positive");
  if (threads < 1) Fail(ExitCode::kUsage, "--" + prefix + ".threads must be >= 1, got " + std::to_string(threads));
  if (queue < 1) Fail(ExitCode::kUsage, "--" + prefix + ".queue must be >= 1, got " + std::to_string(queue));
  if (publish_every < 1) Fail(ExitCode::kUsage, "--" + prefix + ".publish-every must be >= 1");
}

TargetPipeline::TargetPipeline(const TargetWorkerConfig& config, const CemConfig& cem, const BellmanConfig& bellman,
                               const AugmentConfig& augment, QNetworkImpl& target1, QNetworkImpl& target2,
                               SampleFn sample, std::string source, uint64_t seed, uint64_t generation)
    : config_(config), cem_(cem), bellman_(bellman), augment_(augment), sample_(std::move(sample)),
      source_(std::move(source)), seed_(seed), generation_(generation),
      device_(target1.parameters().front().device()), spec_(target1.spec()) {
  if (config_.count == 0) return;
  if (!config_.listen.empty()) {
    host_ = std::make_unique<TargetWorkerHost>(config_.listen, config_.count, config_.timeout_s);
    host_->Publish(target1, target2, cem_, bellman_, augment_, seed_, generation_);
    for (int i = 0; i < config_.count; ++i) threads_.emplace_back([this, i] { WorkerLoop(i); });
    return;
  }
  snapshot_ = std::make_unique<Snapshot>();
  snapshot_->target1 = CloneNetwork(target1, device_);
  snapshot_->target2 = CloneNetwork(target2, device_);
  version_ = 1;
  for (int i = 0; i < config_.count; ++i) threads_.emplace_back([this, i] { WorkerLoop(i); });
}

TargetPipeline::~TargetPipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (host_) host_->Stop();
  for (auto& t : threads_) t.join();
}

void TargetPipeline::Publish(QNetworkImpl& target1, QNetworkImpl& target2) {
  if (config_.count == 0) return;
  if (host_) {
    host_->Publish(target1, target2, cem_, bellman_, augment_, seed_, generation_);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  CopyModuleState(target1, *snapshot_->target1);
  CopyModuleState(target2, *snapshot_->target2);
  ++version_;
}

torch::Tensor LabelTensors(TensorBatch* batch, QNetworkImpl& target1, QNetworkImpl& target2, const CemConfig& cem,
                           const BellmanConfig& bellman, const AugmentConfig& augment, at::Generator& generator,
                           TargetStats* stats) {
  batch->image = RandomShift(batch->image, augment.shift, generator);
  batch->next_image = RandomShift(batch->next_image, augment.shift, generator);
  return ComputeTargets(*batch, target1, target2, cem, bellman, generator, stats);
}

LabeledBatch TargetPipeline::Label(const TransitionBatch& batch, int online_count, QNetworkImpl& t1,
                                   QNetworkImpl& t2, at::Generator& generator) {
  TensorBatch tensors = ToTensorBatch(batch, t1.spec(), device_, source_);
  LabeledBatch labeled;
  labeled.target = LabelTensors(&tensors, t1, t2, cem_, bellman_, augment_, generator, &labeled.stats);
  labeled.image = tensors.image;
  labeled.proprio = tensors.proprio;
  labeled.action = tensors.action;
  labeled.online_count = online_count;
  return labeled;
}

LabeledBatch TargetPipeline::Next(Rng& rng, at::Generator& generator, QNetworkImpl& target1, QNetworkImpl& target2) {
  if (config_.count == 0) {
    const auto start = std::chrono::steady_clock::now();
    int online = 0;
    const TransitionBatch batch = sample_(rng, &online);
    LabeledBatch labeled = Label(batch, online, target1, target2, generator);
    labeled.label_seconds = Seconds(start);
    return labeled;
  }
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !queue_.empty() || error_; });
  wait_seconds_ += Seconds(start);
  if (error_) std::rethrow_exception(error_);
  LabeledBatch labeled = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return labeled;
}

// Worker thread `index` with a worker process: samples here, labels there.
void TargetPipeline::RemoteLoop(int index, Rng& rng) {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || static_cast<int>(queue_.size()) < config_.queue; });
      if (stopping_) return;
    }
    const auto start = std::chrono::steady_clock::now();
    int online = 0;
    const TransitionBatch batch = sample_(rng, &online);
    const TensorBatch tensors = ToTensorBatch(batch, spec_, device_, source_);
    RemoteLabels remote = host_->Label(index, tensors);
    if (!remote.target.defined()) return;  // stopping
    LabeledBatch labeled;
    labeled.image = remote.image.to(device_);
    labeled.proprio = tensors.proprio;
    labeled.action = tensors.action;
    labeled.target = remote.target.to(device_);
    labeled.stats = remote.stats;
    labeled.online_count = online;
    labeled.label_seconds = Seconds(start);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      queue_.push_back(std::move(labeled));
    }
    changed_.notify_all();
  }
}

void TargetPipeline::WorkerLoop(int index) {
  // Intra-op threads are per calling thread with OpenMP: this leaves the trainer's setting alone.
  torch::set_num_threads(config_.threads);
  Rng rng(DeriveSeed(seed_, 1000 + static_cast<uint64_t>(index), generation_));
  at::Generator generator = at::detail::createCPUGenerator(DeriveSeed(seed_, 2000 + static_cast<uint64_t>(index), generation_));
  QNetwork t1{nullptr}, t2{nullptr};
  int64_t have_version = 0;
  try {
    if (host_) {
      RemoteLoop(index, rng);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      t1 = CloneNetwork(*snapshot_->target1, device_);
      t2 = CloneNetwork(*snapshot_->target2, device_);
      t1->eval();
      t2->eval();
      have_version = version_;
    }
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || static_cast<int>(queue_.size()) < config_.queue; });
        if (stopping_) return;
        if (version_ != have_version) {
          CopyModuleState(*snapshot_->target1, *t1);
          CopyModuleState(*snapshot_->target2, *t2);
          have_version = version_;
        }
      }
      const auto start = std::chrono::steady_clock::now();
      int online = 0;
      const TransitionBatch batch = sample_(rng, &online);
      LabeledBatch labeled = Label(batch, online, *t1, *t2, generator);
      labeled.label_seconds = Seconds(start);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        queue_.push_back(std::move(labeled));
      }
      changed_.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    changed_.notify_all();
  }
}

}  // namespace perpetua
