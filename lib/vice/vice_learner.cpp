#include "vice/vice_learner.h"

#include <algorithm>

#include "common/error.h"
#include "nn/input_spec.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

// The seed stream the example split draws from (the run uses 1 and 2).
constexpr uint64_t kHoldoutStream = 7;
constexpr uint64_t kClassifierInitStream = 8;


}  // namespace

ViceRewardSource::ViceRewardSource(BatchSource* inner, SuccessClassifier* classifier, std::mutex* mutex,
                                   std::string image_key)
    : inner_(inner), classifier_(classifier), mutex_(mutex), image_key_(std::move(image_key)) {}

TransitionBatch ViceRewardSource::Sample(int batch_size, Rng& rng, int* online_count) {
  int online = 0;
  TransitionBatch batch = inner_->Sample(batch_size, rng, &online);
  if (online_count) *online_count = online;
  const auto it = batch.next_observations.find(image_key_);
  if (it == batch.next_observations.end()) Fail(ExitCode::kBadData, "VICE: the batch has no image '" + image_key_ + "'");
  torch::Tensor logits;
  {
    std::lock_guard<std::mutex> lock(*mutex_);
    logits = classifier_->Logits(ArrayToTensor(it->second)).contiguous();
  }
  const float* r = logits.data_ptr<float>();
  std::copy(r, r + batch.size(), batch.rewards.begin());
  // ReplayMix puts the online rows last.
  const int64_t first = online > 0 ? batch.size() - online : 0;
  const double mean = batch.size() > first ? logits.slice(0, first).mean().item<double>() : 0.0;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  last_online_reward_ = mean;
  return batch;
}

double ViceRewardSource::last_online_reward() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return last_online_reward_;
}

ViceLearner::ViceLearner(const ViceConfig& config, std::unique_ptr<Learner> inner)
    : config_(config), inner_(std::move(inner)) {}

ViceLearner::~ViceLearner() = default;

void ViceLearner::Validate() const {
  config_.Validate();
  inner_->Validate();
}

void ViceLearner::Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
                        const std::string& checkpoint_path) {
  setup_ = setup;
  const InputSpec spec = InputSpec::FromEnvSpec(setup.data_spec, setup.data_source);
  if (spec.image_keys.size() != 1) {
    Fail(ExitCode::kBadData, setup.data_source + ": --reward vice needs data with exactly one image observation, "
                                                 "this has " + std::to_string(spec.image_keys.size()));
  }
  image_key_ = spec.image_keys.front();
  const ExampleImages examples = LoadExamples(config_.examples, image_key_, spec.height, spec.width);
  ExampleSplit split = SplitExamples(examples, config_.classifier.holdout, DeriveSeed(setup.seed, kHoldoutStream, 0),
                                     config_.examples);
  train_examples_ = split.train;
  holdout_examples_ = split.holdout;
  classifier_ = std::make_unique<SuccessClassifier>(config_.classifier, spec.height, spec.width, setup.device,
                                                    DeriveSeed(setup.seed, kClassifierInitStream, 0));
  if (start != LearnerStart::kFresh && checkpoint != nullptr) {
    if (checkpoint->metadata.contains("vice")) {
      classifier_->Load(*checkpoint, "vice", "vice.", checkpoint_path);
    } else if (start == LearnerStart::kResume) {
      Fail(ExitCode::kBadData, checkpoint_path + ": the run was trained without --reward vice (no classifier to resume)");
    }
  }
  rewards_ = std::make_unique<ViceRewardSource>(setup.batches, classifier_.get(), &classifier_mutex_, image_key_);
  LearnerSetup inner_setup = setup;
  inner_setup.batches = rewards_.get();
  inner_->Build(inner_setup, start, checkpoint, checkpoint_path);
}

void ViceLearner::ClassifierStep(Rng& rng, at::Generator& generator) {
  const torch::Tensor positives = DrawRows(train_examples_, config_.classifier.positives, rng);
  const TransitionBatch batch = setup_.batches->Sample(config_.classifier.negatives, rng, nullptr);
  const torch::Tensor negatives = ArrayToTensor(batch.next_observations.at(image_key_));
  std::lock_guard<std::mutex> lock(classifier_mutex_);
  last_ = classifier_->Step(positives, negatives, generator);
  if (holdout_examples_.size(0) > 0) {
    last_holdout_accuracy_ = (classifier_->Logits(holdout_examples_) > 0).to(torch::kFloat32).mean().item<double>();
  }
}

UpdateResult ViceLearner::Update(Rng& rng, at::Generator& generator) {
  if (inner_->step() % config_.train_every == 0) ClassifierStep(rng, generator);
  UpdateResult result = inner_->Update(rng, generator);
  result.metrics.push_back({"vice_loss", last_.loss});
  result.metrics.push_back({"vice_accuracy", last_.accuracy});
  result.metrics.push_back({"vice_holdout_accuracy", last_holdout_accuracy_});
  result.metrics.push_back({"vice_positive_logit", last_.positive_logit});
  result.metrics.push_back({"vice_negative_logit", last_.negative_logit});
  result.metrics.push_back({"vice_reward_online", rewards_->last_online_reward()});
  return result;
}

void ViceLearner::Save(CheckpointContents* contents) {
  inner_->Save(contents);
  std::lock_guard<std::mutex> lock(classifier_mutex_);
  classifier_->Save(contents, "vice", "vice.");
  contents->metadata["reward"] = "vice";
  contents->metadata["vice_examples"] = {{"folder", config_.examples},
                                         {"train", train_examples_.size(0)},
                                         {"holdout", holdout_examples_.size(0)}};
}

std::string ViceLearner::Describe() {
  return inner_->Describe() + "; VICE rewards: classifier on " + std::to_string(train_examples_.size(0)) +
         " examples (" + std::to_string(holdout_examples_.size(0)) + " held back), a step every " +
         std::to_string(config_.train_every) + " updates";
}

std::unique_ptr<Learner> WithRewards(const RewardSettings& settings, std::unique_ptr<Learner> learner) {
  settings.Validate();
  if (settings.reward == "vice") return std::make_unique<ViceLearner>(settings.vice, std::move(learner));
  return learner;
}

}  // namespace perpetua
