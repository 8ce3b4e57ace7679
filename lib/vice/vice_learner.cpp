#include "vice/vice_learner.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "nn/checkpoint.h"
#include "nn/input_spec.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

// The seed stream of the classifier's initial weights (the run uses 1 and 2,
// the example split 7: success_classifier.cpp).
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
    // A view of the batch's images, not a copy: Logits reads them once (every batch: the hot path).
    const torch::Tensor images =
        torch::from_blob(const_cast<void*>(it->second.data()), it->second.shape, torch::kUInt8);
    logits = classifier_->Logits(images).contiguous();
  }
  // The online rows are the last ones (BatchSource).
  const int64_t first = online > 0 ? batch.size() - online : 0;
  const double mean = batch.size() > first ? logits.slice(0, first).mean().item<double>() : 0.0;
  const float* r = logits.data_ptr<float>();
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    last_online_reward_ = mean;
    if (track_candidates_ && online > 0) {
      // The best online row not asked before (the data's reward is read before it is replaced).
      const torch::Tensor order = std::get<1>(logits.slice(0, first).sort(/*dim=*/0, /*descending=*/true));
      for (int64_t k = 0; k < order.size(0) && k < 8; ++k) {
        const int64_t row = first + order[k].item<int64_t>();
        if (best_.valid && r[row] <= best_.logit) break;
        Array image = ImageRow(it->second, row);
        const uint64_t hash = Fnv1a64(image.u8.data(), image.u8.size());
        if (excluded_.count(hash) != 0) continue;
        best_ = {true, std::move(image), r[row], batch.rewards[row], hash};
        break;
      }
    }
  }
  std::copy(r, r + batch.size(), batch.rewards.begin());
  batch.returns_to_go.clear();  // the stored rewards' returns are not this reward's
  return batch;
}

ViceRewardSource::Candidate ViceRewardSource::TakeCandidate() {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  Candidate out = std::move(best_);
  best_ = Candidate();
  return out;
}

void ViceRewardSource::Exclude(uint64_t hash) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  excluded_.insert(hash);
}

void ViceRewardSource::TrackCandidates(bool on) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  track_candidates_ = on;
}

double ViceRewardSource::last_online_reward() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return last_online_reward_;
}

ViceLearner::ViceLearner(const ViceConfig& config, std::unique_ptr<Learner> inner)
    : WrappingLearner(std::move(inner)), config_(config) {}

ViceLearner::~ViceLearner() { Stop(); }

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
  if (setup.collective != nullptr) {
    const int ranks = setup.collective->world_size();
    if (config_.classifier.positives % ranks != 0 || config_.classifier.negatives % ranks != 0) {
      Fail(ExitCode::kUsage, "--vice.classifier.positives and --vice.classifier.negatives must divide by the " +
                                 std::to_string(ranks) + " ranks (each draws its share)");
    }
  }
  const ExampleImages examples = LoadExamples(config_.examples, image_key_, spec.height, spec.width);
  ExampleSplit split = SplitExamples(examples, config_.classifier.holdout, setup.seed, config_.examples);
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
  classifier_->SetCollective(setup.collective);
  rewards_ = std::make_unique<ViceRewardSource>(setup.batches, classifier_.get(), &classifier_mutex_, image_key_);
  if (config_.query_every > 0) labelled_negatives_ = torch::zeros({0, spec.height, spec.width, 3}, torch::kUInt8);
  const bool asks = setup.collective == nullptr || setup.collective->rank() == 0;  // rank 0 alone asks
  if (config_.query_every > 0 && asks) {
    queue_ = std::make_unique<QueryQueue>(config_.queries.empty() ? setup.out_dir + "/queries" : config_.queries,
                                          /*create=*/true);
    for (const Query& q : queue_->Queries()) {
      ++asked_;
      unanswered_[q.id] = q.time_unix;
      try {
        const Array image = queue_->Image(q);
        rewards_->Exclude(Fnv1a64(image.u8.data(), image.u8.size()));
      } catch (const Error&) {
        // A question whose image is gone cannot be asked again anyway (its
        // answer is ignored with a warning by ApplyAnswers).
      }
    }
    ApplyAnswers();
    query_mark_ = 0;  // the online data that came before the first update counts (on resume: the re-read window)
    rewards_->TrackCandidates(true);
  }
  if (config_.query_every > 0) CommitAnswers();  // the standing answers, on every rank
  LearnerSetup inner_setup = setup;
  inner_setup.batches = rewards_.get();
  inner_->Build(inner_setup, start, checkpoint, checkpoint_path);
}

void ViceLearner::ClassifierStep(Rng& rng, at::Generator& generator) {
  const int ranks = setup_.collective ? setup_.collective->world_size() : 1;
  const torch::Tensor positives = DrawRows(train_examples_, config_.classifier.positives / ranks, rng);
  const int64_t n = config_.classifier.negatives / ranks;
  int online = 0;
  const TransitionBatch batch =
      setup_.batches->Sample(static_cast<int>(config_.online_negatives ? 2 * n : n), rng, &online);
  torch::Tensor negatives = ArrayToTensor(batch.next_observations.at(image_key_));
  if (config_.online_negatives) {
    // The online rows are the last ones; offline rows before them fill in.
    const int64_t end = batch.size(), begin = std::max<int64_t>(0, std::min(end - online, end - n));
    negatives = negatives.slice(0, begin, begin + n).clone();
  }
  if (labelled_negatives_.defined() && labelled_negatives_.size(0) > 0) {
    // Up to a quarter of the negatives are states a person said were no success.
    const int64_t k = std::max<int64_t>(1, negatives.size(0) / 4);
    negatives.slice(0, 0, k).copy_(DrawRows(labelled_negatives_, k, rng));
  }
  std::lock_guard<std::mutex> lock(classifier_mutex_);
  last_ = classifier_->Step(positives, negatives, generator);
  if (holdout_examples_.size(0) > 0) {
    last_holdout_accuracy_ = (classifier_->Logits(holdout_examples_) > 0).to(torch::kFloat32).mean().item<double>();
  }
}

void ViceLearner::ApplyAnswers() {
  std::error_code ec;
  const auto size = std::filesystem::file_size(queue_->answers_path(), ec);
  const int64_t now_size = ec ? 0 : static_cast<int64_t>(size);
  if (now_size == answers_size_) return;
  answers_size_ = now_size;
  const QueryQueue::Answers answers = queue_->ReadAnswers();
  for (size_t i = problems_logged_; i < answers.problems.size(); ++i) {
    LogWarning(queue_->dir() + "/" + answers.problems[i] + " (ignored)");
  }
  problems_logged_ = std::max(problems_logged_, answers.problems.size());
  std::map<int64_t, Query> queries;
  for (const Query& q : queue_->Queries()) queries[q.id] = q;
  for (const QueryAnswer& a : answers.answers) {
    if (applied_.count(a.id) != 0) continue;
    applied_.insert(a.id);
    unanswered_.erase(a.id);
    if (a.label == "skip") continue;
    torch::Tensor image;
    try {
      const Array array = queue_->Image(queries.at(a.id));
      if (array.shape != std::vector<int64_t>{train_examples_.size(1), train_examples_.size(2), 3}) {
        Fail(ExitCode::kBadData, queue_->dir() + "/" + queries.at(a.id).image + ": not the data's image size");
      }
      image = ArrayToTensor(array).unsqueeze(0);
    } catch (const Error& e) {
      LogWarning(std::string(e.what()) + " (answer to question " + std::to_string(a.id) + " ignored)");
      continue;
    }
    if (a.label == "success") {
      pending_success_.push_back(image);
      ++answered_success_;
    } else {
      pending_failure_.push_back(image);
      ++answered_failure_;
    }
  }
}

void ViceLearner::CommitAnswers() {
  if (!setup_.collective && pending_success_.empty() && pending_failure_.empty()) return;
  const auto stacked = [&](const std::vector<torch::Tensor>& images) {
    return images.empty() ? torch::zeros({0, train_examples_.size(1), train_examples_.size(2), 3}, torch::kUInt8)
                          : torch::cat(images);
  };
  torch::Tensor success = stacked(pending_success_), failure = stacked(pending_failure_);
  pending_success_.clear();
  pending_failure_.clear();
  if (setup_.collective != nullptr) {
    success = setup_.collective->FromRankZero(success);
    failure = setup_.collective->FromRankZero(failure);
  }
  if (success.size(0) > 0) train_examples_ = torch::cat({train_examples_, success});
  if (failure.size(0) > 0) labelled_negatives_ = torch::cat({labelled_negatives_, failure});
}

std::vector<torch::Tensor> ViceLearner::ReplicatedState() {
  std::vector<torch::Tensor> state = inner_->ReplicatedState();
  if (state.empty()) return state;  // the inner learner cannot train data-parallel
  for (const torch::Tensor& t : classifier_->ReplicatedState()) state.push_back(t);
  state.push_back(train_examples_);
  if (labelled_negatives_.defined()) state.push_back(labelled_negatives_);
  return state;
}

bool ViceLearner::MaybeAsk() {
  ViceRewardSource::Candidate candidate = rewards_->TakeCandidate();
  if (!candidate.valid) return false;
  const double probability = 1.0 / (1.0 + std::exp(-candidate.logit));
  const int64_t id = queue_->Ask(candidate.image, probability, step());
  rewards_->Exclude(candidate.hash);
  ++asked_;
  unanswered_[id] = UnixSeconds();
  if (config_.oracle == "cell") queue_->Answer(id, candidate.data_reward > 0 ? "success" : "failure", "oracle");
  return true;
}

UpdateResult ViceLearner::Update(Rng& rng, at::Generator& generator) {
  if (queue_) {
    ApplyAnswers();
    const int64_t received = rewards_->online_received();
    const bool budget_left = config_.max_queries == 0 || asked_ < config_.max_queries;
    if (budget_left && received - query_mark_ >= config_.query_every && MaybeAsk()) {
      query_mark_ = received;
      ApplyAnswers();  // an oracle's answer applies at once
    }
  }
  if (config_.query_every > 0) CommitAnswers();
  if (inner_->step() % config_.train_every == 0) ClassifierStep(rng, generator);
  UpdateResult result = inner_->Update(rng, generator);
  result.metrics.push_back({"vice_loss", last_.loss});
  result.metrics.push_back({"vice_accuracy", last_.accuracy});
  result.metrics.push_back({"vice_holdout_accuracy", last_holdout_accuracy_});
  result.metrics.push_back({"vice_positive_logit", last_.positive_logit});
  result.metrics.push_back({"vice_negative_logit", last_.negative_logit});
  result.metrics.push_back({"vice_reward_online", rewards_->last_online_reward()});
  if (queue_) {
    const double now = UnixSeconds();
    double oldest = 0.0;
    for (const auto& [id, asked] : unanswered_) oldest = std::max(oldest, now - asked);
    result.metrics.push_back({"vice_queries", static_cast<double>(asked_), Metric::Reduce::kMax});
    result.metrics.push_back({"vice_unanswered", static_cast<double>(unanswered_.size()), Metric::Reduce::kMax});
    result.metrics.push_back({"vice_oldest_unanswered_s", oldest, Metric::Reduce::kMax});
    result.metrics.push_back({"vice_answered_success", static_cast<double>(answered_success_), Metric::Reduce::kMax});
    result.metrics.push_back({"vice_answered_failure", static_cast<double>(answered_failure_), Metric::Reduce::kMax});
  }
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
  if (queue_) {
    contents->metadata["vice_queries"] = {{"folder", queue_->dir()},
                                          {"asked", asked_},
                                          {"answered_success", answered_success_},
                                          {"answered_failure", answered_failure_}};
  }
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
