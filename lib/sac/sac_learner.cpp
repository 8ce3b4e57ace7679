#include "sac/sac_learner.h"

#include <chrono>

#include "nn/tensor_batch.h"

namespace perpetua {

SacLearner::SacLearner(const SacTrainConfig& config) : config_(config.sac) {
  config_.batch_size = config.batch_size;
}

SacLearner::~SacLearner() = default;

std::string SacLearner::algorithm() const { return kSacAlgorithm; }

void SacLearner::Validate() const { config_.Validate("sac"); }

void SacLearner::Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
                       const std::string& checkpoint_path) {
  setup_ = setup;
  agent_ = std::make_unique<SacAgent>(config_, InputSpec::FromEnvSpec(setup.data_spec, setup.data_source),
                                      setup.device, setup.seed);
  agent_->SetCollective(setup.collective);
  if (start == LearnerStart::kResume) agent_->Load(*checkpoint, checkpoint_path);
  if (start == LearnerStart::kInit) agent_->InitFrom(*checkpoint, checkpoint_path);
}

UpdateResult SacLearner::Update(Rng& rng, at::Generator& generator) {
  const auto start = std::chrono::steady_clock::now();
  UpdateResult result;
  SampleRequest request;
  request.n_step = config_.n_step;
  request.discount = config_.gamma;
  // A one-step request is Sample() on every source (the reward and goal sources included).
  const TransitionBatch batch = setup_.batches->SampleFor(setup_.batch_size, rng, &result.online_count, request);
  result.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const SacUpdateStats stats =
      agent_->Update(ToTensorBatch(batch, agent_->spec(), setup_.device, setup_.data_source), generator);
  const SacConfig& c = agent_->config();
  const bool discrete = DiscreteTerminateIndex(c.network, agent_->spec()) >= 0;
  for (const auto& [name, value] : StatsRow(stats, c.bc_weight > 0.0, c.cql_weight > 0.0, discrete)) {
    const Metric::Reduce reduce = name == "q_min"   ? Metric::Reduce::kMin
                                  : name == "q_max" ? Metric::Reduce::kMax
                                                    : Metric::Reduce::kMean;
    result.metrics.push_back({name, value, reduce});
  }
  result.batch_size = setup_.batch_size;
  return result;
}

void SacLearner::Save(CheckpointContents* contents) { agent_->Save(contents); }

std::string SacLearner::Describe() {
  return "SAC " + config_.network.ToJson().dump() + ", target entropy " + std::to_string(agent_->target_entropy());
}

}  // namespace perpetua
