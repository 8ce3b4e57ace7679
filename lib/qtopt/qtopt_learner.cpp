#include "qtopt/qtopt_learner.h"

#include <chrono>

#include "common/error.h"
#include "common/log.h"
#include "dist/dist_config.h"
#include "qtopt/q_checkpoint.h"

namespace perpetua {

QtOptLearner::QtOptLearner(const QTrainConfig& config) : config_(config) {}

QtOptLearner::~QtOptLearner() = default;

std::string QtOptLearner::algorithm() const { return kQtOptAlgorithm; }

void QtOptLearner::Validate() const {
  config_.network.Validate("network");
  config_.cem.Validate("cem");
  config_.target.Validate("target");
  config_.optim.Validate("optim");
  config_.augment.Validate("augment");
  config_.target_workers.Validate("target_workers");
}

void QtOptLearner::Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
                         const std::string& checkpoint_path) {
  setup_ = setup;
  spec_ = QInputSpec::FromEnvSpec(setup.data_spec, setup.data_source);
  QNetworkConfig network = config_.network;
  if (start == LearnerStart::kResume) {
    const LoadedQNetwork loaded = LoadQNetwork(*checkpoint, checkpoint_path, setup.device);
    CheckSameInputs(loaded.spec, spec_, checkpoint_path, "the data");
    if (loaded.config.ToJson() != network.ToJson()) {
      LogWarning("--resume: using the checkpoint's network sizes " + loaded.config.ToJson().dump() +
                 " (the config asks for " + network.ToJson().dump() + ")");
      network = loaded.config;
    }
  }
  learner_ = std::make_unique<QLearner>(network, spec_, config_.optim, config_.target, setup.device, setup.seed);
  if (start == LearnerStart::kResume) {
    learner_->Load(*checkpoint, checkpoint_path);
  } else if (start == LearnerStart::kInit) {
    const LoadedQNetwork loaded = LoadQNetwork(*checkpoint, checkpoint_path, setup.device);
    CheckSameInputs(loaded.spec, spec_, checkpoint_path, "the data");
    if (loaded.config.ToJson() != network.ToJson()) {
      Fail(ExitCode::kBadData, checkpoint_path + ": checkpoint network " + loaded.config.ToJson().dump() +
                                   " differs from the configured " + network.ToJson().dump());
    }
    learner_->InitFrom(*checkpoint, checkpoint_path);
  }
  learner_->SetCollective(setup.collective);
  BatchSource* batches = setup.batches;
  const int batch_size = setup.batch_size;
  // Target workers sample with streams of their own: each rank's differ.
  const uint64_t worker_seed =
      setup.collective ? DeriveSeed(setup.seed, /*stream=*/9, static_cast<uint64_t>(setup.collective->rank()))
                       : setup.seed;
  TargetWorkerConfig workers = config_.target_workers;
  if (setup.collective && !workers.listen.empty()) {
    // Each rank serves its own worker processes, rank r at PORT + r (on its own machine).
    const TcpAddress address = ParseTcpAddress(workers.listen, "--target-workers.listen");
    const int port = address.port + setup.collective->rank();
    if (port > 65535) {
      Fail(ExitCode::kUsage, "--target-workers.listen: rank " + std::to_string(setup.collective->rank()) +
                                 " would serve at port " + std::to_string(port) + " (PORT + rank), above 65535");
    }
    workers.listen = "tcp://" + address.host + ":" + std::to_string(port);
    LogInfo("rank " + std::to_string(setup.collective->rank()) + "'s target worker processes connect to " +
            workers.listen + " (--target-workers.listen's port + rank)");
  }
  pipeline_ = std::make_unique<TargetPipeline>(
      workers, config_.cem, config_.target, config_.augment, learner_->target1(), learner_->target2(),
      [batches, batch_size](Rng& r, int* online) { return batches->Sample(batch_size, r, online); },
      setup.data_source, worker_seed, static_cast<uint64_t>(learner_->step()));
}

UpdateResult QtOptLearner::Update(Rng& rng, at::Generator& generator) {
  const auto start = std::chrono::steady_clock::now();
  const LabeledBatch batch = pipeline_->Next(rng, generator, learner_->target1(), learner_->target2());
  const double wait = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const UpdateStats stats = learner_->Update(batch.image, batch.proprio, batch.action, batch.target, generator);
  if (config_.target_workers.count > 0 && learner_->step() % config_.target_workers.publish_every == 0) {
    pipeline_->Publish(learner_->target1(), learner_->target2());
  }
  UpdateResult result;
  result.metrics = {{"loss", stats.loss},
                    {"q_mean", stats.q_mean},
                    {"q_min", stats.q_min, Metric::Reduce::kMin},
                    {"q_max", stats.q_max, Metric::Reduce::kMax},
                    {"grad_norm", stats.grad_norm},
                    {"conservative", stats.conservative},
                    {"target_mean", batch.stats.target_mean},
                    {"next_value_mean", batch.stats.next_value_mean},
                    {"terminal_fraction", batch.stats.terminal_fraction}};
  result.batch_size = setup_.batch_size;
  result.online_count = batch.online_count;
  result.wait_seconds = wait;
  return result;
}

void QtOptLearner::Save(CheckpointContents* c) {
  c->metadata["qtopt_format"] = kQtOptFormat;
  c->metadata["network"] = learner_->online().config().ToJson();
  c->metadata["input_spec"] = spec_.ToJson();
  c->metadata["normalization"] = {{"image", "x / 255 - 0.5"}, {"proprio", "none"}};
  c->metadata["cem"] = {{"iterations", config_.cem.iterations},
                        {"samples", config_.cem.samples},
                        {"elites", config_.cem.elites},
                        {"min_std", config_.cem.min_std}};
  learner_->Save(c);
}

std::string QtOptLearner::Describe() {
  return std::to_string(CountParameters(learner_->online())) + " parameters, " +
         std::to_string(config_.target_workers.count) + " target worker(s)";
}

}  // namespace perpetua
