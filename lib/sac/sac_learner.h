// SAC as a Learner (train/learner.h): a SacAgent (sac_agent.h) fed by the
// run's replay mix. Each Update draws one batch of the run's --batch-size
// from setup.batches, converts it with ToTensorBatch (nn/tensor_batch.h) and
// takes one SacAgent::Update step with the run's generator.
//
// Build: kFresh: new networks from setup.seed; kResume: everything
// SacAgent::Save wrote (bit-exact with the run's saved streams); kInit:
// actor, critics and temperature (SacAgent::InitFrom), fresh optimisers,
// step 0. Both checks the checkpoint's input spec against the data's and its
// network sizes against --sac.network.* (Error(kBadData) "<path>: ...").
//
// Checkpoint payload: SacAgent::Save (metadata "step", "sac_format",
// "sac_network", "input_spec", "sac_state"; blobs "sac.*").
// Include only from LibTorch translation units.
#pragma once

#include <memory>
#include <string>

#include "sac/sac_agent.h"
#include "sac/sac_config.h"
#include "train/learner.h"

namespace perpetua {

class SacLearner : public Learner {
 public:
  // The run's --batch-size replaces config.sac.batch_size; warmup_steps and
  // updates_per_step are the in-process loop's (sac_env_loop.h) and unused here.
  explicit SacLearner(const SacTrainConfig& config);
  ~SacLearner() override;

  std::string algorithm() const override;
  void Validate() const override;
  void Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
             const std::string& checkpoint_path) override;
  UpdateResult Update(Rng& rng, at::Generator& generator) override;
  int64_t step() const override { return agent_->updates(); }
  void Save(CheckpointContents* contents) override;
  std::string Describe() override;
  std::vector<torch::Tensor> ReplicatedState() override { return agent_->ReplicatedState(); }

 private:
  SacConfig config_;
  LearnerSetup setup_;
  std::unique_ptr<SacAgent> agent_;
};

}  // namespace perpetua
