// VICE beside any learner: rl-train <verb> --reward vice --vice.examples DIR.
//
// ViceLearner wraps the verb's learner (SAC, QT-Opt) and the run's batches:
//   Build:  loads the examples (vice/example_images.h) at the data's image
//           size, holds back a share of them (config.classifier.holdout,
//           drawn from the run's seed), builds the success classifier and
//           hands the inner learner a BatchSource whose batches carry the
//           classifier's rewards (ViceRewardSource).
//   Update: every train_every-th update, one classifier step: positives drawn
//           from the training examples, negatives the s' images of a batch of
//           the run's mix (its online share is the policy's newest states);
//           then the inner learner's update on relabelled batches.
//   Save:   the inner learner's checkpoint plus the classifier (metadata
//           "vice", blobs "vice.net", "vice.adam") and "reward": "vice", so
//           both resume together, bit-exact on CPU (the classifier draws from
//           the run's saved streams).
// Rewards: r = logit D(s') of the transition's next image, from the current
// classifier when the batch is drawn; the data on disk is never rewritten.
// Active queries (config.query_every > 0; vice/query_queue.h): each time
// query_every new transitions have arrived online, the online state with the
// highest logit drawn since the last question (never one asked before) is
// asked about in the question folder; with oracle "cell" the data's reward of
// the step into that state answers at once (> 0: success). Every update
// checks the answers file (one stat while it is unchanged); a new answer
// applies without a restart: success adds the image to the training
// examples, failure to the labelled negatives (up to a quarter of each
// classifier step's negatives are drawn from them), skip does nothing.
// Garbage answer lines and second answers are logged once and ignored. A
// resumed (or restarted) run applies every standing answer in the folder.
// Data-parallel (setup.collective, dist/collective.h): each rank draws its
// share of the classifier's positives and negatives (each must divide by the
// ranks) and the classifier averages its gradients. Rank 0 alone asks and
// reads the answers; every update it hands the images of new answers to the
// other ranks (Collective::FromRankZero), so every rank's examples and
// labelled negatives stay identical (they are part of ReplicatedState).
// Metrics (after the inner learner's): vice_loss, vice_accuracy (the step's
// unmixed batch), vice_holdout_accuracy (held-back examples rated success),
// vice_positive_logit, vice_negative_logit, vice_reward_online (mean reward
// of the update's online rows; the overall mean when it has none), and with
// queries vice_queries (asked), vice_unanswered, vice_oldest_unanswered_s,
// vice_answered_success, vice_answered_failure.
// Include only from LibTorch translation units.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "train/learner.h"
#include "vice/example_images.h"
#include "vice/query_queue.h"
#include "vice/success_classifier.h"
#include "vice/vice_config.h"

namespace perpetua {

// Batches of `inner` with rewards logit D(s'[image_key]). Thread-safe: the
// classifier is read under `mutex` (its trainer steps it under the same one).
class ViceRewardSource : public BatchSource {
 public:
  ViceRewardSource(BatchSource* inner, SuccessClassifier* classifier, std::mutex* mutex, std::string image_key);
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override;
  // Mean reward of the online rows of the last batch drawn (of all rows when it had none).
  double last_online_reward() const;
  int64_t online_received() const override { return inner_->online_received(); }

  // The online state with the highest logit drawn since the last call, with
  // the reward the data holds for the step into it. valid is false when no
  // online state was drawn (or all were excluded).
  struct Candidate {
    bool valid = false;
    Array image;  // [H,W,3] uint8
    double logit = 0.0;
    float data_reward = 0.0f;
    uint64_t hash = 0;  // of the image's bytes
  };
  Candidate TakeCandidate();
  // Never offers an image with this hash again.
  void Exclude(uint64_t hash);
  // Candidates are tracked only when on (off at first).
  void TrackCandidates(bool on);

 private:
  BatchSource* inner_;
  SuccessClassifier* classifier_;
  std::mutex* mutex_;
  std::string image_key_;
  mutable std::mutex stats_mutex_;
  double last_online_reward_ = 0.0;
  bool track_candidates_ = false;
  Candidate best_;
  std::set<uint64_t> excluded_;
};

class ViceLearner : public WrappingLearner {
 public:
  ViceLearner(const ViceConfig& config, std::unique_ptr<Learner> inner);
  ~ViceLearner() override;

  void Validate() const override;
  // Error(kBadData): data without exactly one image observation, examples that
  // do not fit it (example_images.h), or (kResume) a checkpoint without a classifier.
  void Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
             const std::string& checkpoint_path) override;
  UpdateResult Update(Rng& rng, at::Generator& generator) override;
  void Save(CheckpointContents* contents) override;
  std::string Describe() override;
  // The inner learner's, the classifier's weights, the training examples and
  // the labelled negatives.
  std::vector<torch::Tensor> ReplicatedState() override;

  SuccessClassifier& classifier() { return *classifier_; }

 private:
  void ClassifierStep(Rng& rng, at::Generator& generator);
  // Reads the answers that are new since the last look (queries only, rank 0)
  // into pending_success_ / pending_failure_.
  void ApplyAnswers();
  // Adds the pending answers' images to the examples and negatives, on every
  // rank (rank 0's, shared by the collective).
  void CommitAnswers();
  // Asks about the best candidate, if there is one (returns whether it asked).
  bool MaybeAsk();

  ViceConfig config_;
  LearnerSetup setup_;
  std::string image_key_;
  torch::Tensor train_examples_, holdout_examples_;  // [N,H,W,3] uint8 (CPU)
  std::unique_ptr<SuccessClassifier> classifier_;
  std::mutex classifier_mutex_;
  std::unique_ptr<ViceRewardSource> rewards_;
  ClassifierStepStats last_;
  double last_holdout_accuracy_ = 0.0;
  // Queries.
  std::unique_ptr<QueryQueue> queue_;
  torch::Tensor labelled_negatives_;        // [M,H,W,3] uint8 (CPU), M may be 0
  std::vector<torch::Tensor> pending_success_, pending_failure_;  // [1,H,W,3] each, read but not yet added
  std::map<int64_t, double> unanswered_;    // question id -> time asked (unix s)
  std::set<int64_t> applied_;               // question ids whose answer is applied
  int64_t asked_ = 0, answered_success_ = 0, answered_failure_ = 0;
  int64_t answers_size_ = -1;               // answers file size at the last look
  size_t problems_logged_ = 0;
  int64_t query_mark_ = 0;                  // online_received() at the last question
};

// `learner` as the settings ask: itself for --reward env, wrapped in a
// ViceLearner for --reward vice. Throws Error(kUsage) for bad settings.
std::unique_ptr<Learner> WithRewards(const RewardSettings& settings, std::unique_ptr<Learner> learner);

}  // namespace perpetua
