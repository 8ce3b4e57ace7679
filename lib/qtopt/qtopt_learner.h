// QT-Opt as a Learner (train/learner.h): the Q-network, its two lagged
// target networks and Adam (QLearner), fed by the Bellman-target pipeline
// (TargetPipeline: CEM targets computed inline or by worker threads).
//
// Checkpoint payload (besides the run's fields): metadata "qtopt_format",
// "network" (QNetworkConfig), "input_spec" (QInputSpec), "normalization",
// "cem" (the run's CEM settings, used by the policy); blobs "net.online",
// "net.target1", "net.target2", "optim.adam", "example.*" (q_checkpoint.h).
// Include only from LibTorch translation units.
#pragma once

#include <memory>
#include <string>

#include "qtopt/q_learner.h"
#include "qtopt/qtopt_config.h"
#include "qtopt/target_pipeline.h"
#include "train/learner.h"

namespace perpetua {

class QtOptLearner : public Learner {
 public:
  explicit QtOptLearner(const QTrainConfig& config);
  ~QtOptLearner() override;

  std::string algorithm() const override;
  void Validate() const override;
  // Worker threads compute (worker processes compute elsewhere).
  int helper_threads() const override {
    return config_.target_workers.listen.empty() ? config_.target_workers.count * config_.target_workers.threads : 0;
  }
  // Resume takes the checkpoint's network sizes when they differ from the
  // config (with a warning); --init refuses other sizes (Error(kBadData)).
  void Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
             const std::string& checkpoint_path) override;
  UpdateResult Update(Rng& rng, at::Generator& generator) override;
  int64_t step() const override { return learner_->step(); }
  void Save(CheckpointContents* contents) override;
  std::string Describe() override;
  void Stop() override { pipeline_.reset(); }
  std::vector<torch::Tensor> ReplicatedState() override { return learner_->ReplicatedState(); }

 private:
  QTrainConfig config_;
  LearnerSetup setup_;
  QInputSpec spec_;
  std::unique_ptr<QLearner> learner_;
  std::unique_ptr<TargetPipeline> pipeline_;
};

}  // namespace perpetua
