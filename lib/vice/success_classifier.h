// VICE's success classifier D(s) and its training step.
//
//   image [B,H,W,3] uint8 --(x/255 - 0.5)--> per conv_channels entry: 5x5 conv
//   (padding 2) + ReLU + 2x2 max-pool --> flatten --(FC hidden, ReLU)--> FC 1 --> logit [B]
//
// D(s) = sigmoid(logit): the probability that s is a success. VICE's reward
// is the logit itself (log D - log(1 - D)), as in the official code.
//
// One training step (Step): `positives` example images (label 1) and
// `negatives` robot states (label 0), each randomly shifted (augment_shift),
// mixed pairwise by mixup (Zhang et al. 2018): with a random permutation p
// of the 2B inputs and lambda_i ~ Beta(alpha, alpha),
//   x~_i = lambda_i x_i + (1 - lambda_i) x_p(i),  y~_i = lambda_i y_i + (1 - lambda_i) y_p(i),
// then one Adam step on the mean sigmoid cross-entropy of (logit(x~), y~).
// Every random draw comes from the caller's generator: same state, same step.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/rng.h"
#include "dist/collective.h"
#include "nn/checkpoint.h"
#include "vice/example_images.h"
#include "vice/vice_config.h"

namespace perpetua {

class SuccessNetImpl : public torch::nn::Module {
 public:
  SuccessNetImpl(const ViceNetworkConfig& config, int64_t height, int64_t width);
  // images [B,3,H,W] float32 (Normalize's form) -> logits [B].
  torch::Tensor forward(const torch::Tensor& normalized);
  // [B,H,W,3] uint8 -> [B,3,H,W] float32, x/255 - 0.5.
  static torch::Tensor Normalize(const torch::Tensor& images);

 private:
  std::vector<torch::nn::Conv2d> convs_;
  torch::nn::Linear fc_{nullptr}, out_{nullptr};
};
TORCH_MODULE(SuccessNet);

// The mixup of inputs [N,...] float and labels [N] float with per-pair
// weights lambda [N] and a permutation perm [N] (int64): see the file comment.
struct Mixed {
  torch::Tensor inputs, labels;
};
Mixed Mixup(const torch::Tensor& inputs, const torch::Tensor& labels, const torch::Tensor& lambda,
            const torch::Tensor& perm);
// Mean sigmoid cross-entropy of logits [N] against soft labels [N] in [0,1].
torch::Tensor ClassifierLoss(const torch::Tensor& logits, const torch::Tensor& labels);
// lambda [n] ~ Beta(alpha, alpha) from `generator` (alpha > 0).
torch::Tensor SampleBeta(int64_t n, double alpha, at::Generator& generator);

// The examples split in two: `holdout` of them (rounded down) held back to
// measure the classifier, the rest trained on; the split is a shuffle drawn
// from the run's `seed` (a stream of its own, so rl-label train and a
// training run with the same seed hold back the same examples). [N,H,W,3]
// uint8 CPU tensors. Error(kBadData) "<folder>: no
// example left to train on" when none is left.
struct ExampleSplit {
  torch::Tensor train, holdout;
};
ExampleSplit SplitExamples(const ExampleImages& examples, double holdout, uint64_t seed, const std::string& folder);

// `n` rows of `images` [N,...] drawn uniformly with replacement by `rng`.
torch::Tensor DrawRows(const torch::Tensor& images, int64_t n, Rng& rng);

// Figures of one classifier step: the loss before the update, the rest
// measured by the updated classifier on (up to 32 of each of) the step's
// positives and negatives, unmixed and unshifted.
struct ClassifierStepStats {
  double loss = 0.0;       // the mixup loss
  double accuracy = 0.0;   // share of the unmixed positives and negatives on the right side of 0.5
  double positive_logit = 0.0, negative_logit = 0.0;  // mean logits of the unmixed positives / negatives
};

// The classifier with its optimiser: what rl-label train and a VICE run share.
class SuccessClassifier {
 public:
  // Fresh weights drawn from `seed` (torch's global generator, as learners do).
  // height/width: the images it reads. Throws Error(kUsage) for a bad config.
  SuccessClassifier(const ViceClassifierConfig& config, int64_t height, int64_t width, const torch::Device& device,
                    uint64_t seed);

  // One step on positives [P,H,W,3] and negatives [N,H,W,3] uint8 (any
  // device). Throws Error(kDiverged) "non-finite classifier loss at step N".
  ClassifierStepStats Step(const torch::Tensor& positives, const torch::Tensor& negatives, at::Generator& generator);
  // Logits [B] (CPU float32) of images [B,H,W,3] uint8, without gradient;
  // batches of at most 256 at a time.
  torch::Tensor Logits(const torch::Tensor& images);

  // Data-parallel training (dist/collective.h): Step averages the gradients
  // over the ranks before Adam's step. Null (the default): one process.
  void SetCollective(Collective* collective) { collective_ = collective; }
  // The weights every rank must hold identically.
  std::vector<torch::Tensor> ReplicatedState() const { return net_->parameters(); }

  int64_t steps() const { return steps_; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  const ViceClassifierConfig& config() const { return config_; }

  // Metadata `key` {"vice_format", "network", "height", "width", "steps"} and
  // blobs "<prefix>net" and "<prefix>adam": everything for a bit-exact resume.
  void Save(CheckpointContents* contents, const std::string& key, const std::string& prefix);
  // Restores what Save wrote, into a classifier of the same layers and image
  // size. Error(kBadData) "<source>: ..." on a missing part or other sizes.
  void Load(const CheckpointContents& contents, const std::string& key, const std::string& prefix,
            const std::string& source);
  // A classifier of the layers and image size a checkpoint records (weights
  // loaded, optimiser fresh unless the checkpoint has it). Error(kBadData).
  static std::unique_ptr<SuccessClassifier> FromCheckpoint(const CheckpointContents& contents, const std::string& key,
                                                           const std::string& prefix, const torch::Device& device,
                                                           const std::string& source);

 private:
  ViceClassifierConfig config_;
  int64_t height_, width_;
  torch::Device device_;
  SuccessNet net_{nullptr};
  std::unique_ptr<torch::optim::Adam> adam_;
  int64_t steps_ = 0;
  Collective* collective_ = nullptr;
};

// A standalone classifier checkpoint (rl-label train): metadata "algorithm"
// "vice", "id", "seed", "config_yaml", "examples" (count), the classifier
// under "vice" and blobs "vice.net", "vice.adam". A training run's checkpoint
// with --reward vice holds the same "vice" entries beside its learner's.
void WriteClassifierCheckpoint(const std::string& path, SuccessClassifier& classifier, uint64_t seed,
                               const std::string& config_yaml, int64_t examples);
// The classifier of either kind of checkpoint. Error(kBadData) "<path>: ..."
// when the file is corrupt or holds no classifier.
std::unique_ptr<SuccessClassifier> LoadClassifierCheckpoint(const std::string& path, const torch::Device& device);

}  // namespace perpetua
