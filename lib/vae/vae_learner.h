// The VAE as a Learner (train/learner.h): rl-goals fit is the one training
// run over it. Each Update is one GoalVae step (goal_vae.h) on --batch-size
// images of the data's `--vae.image-key` observation:
//   - the first skew_warmup updates, or with alpha 0 (RIG): a batch drawn
//     uniformly by the run's replay mix;
//   - then (Skew-Fit): a batch drawn from the skew pool with weights
//     p(x)^alpha (vae/skew.h). The pool is skew_pool images drawn uniformly
//     from the mix, redrawn with their density estimates every skew_refresh
//     updates. The draw of pool r uses a stream of its own derived from the
//     run's seed and r, so a resumed run redraws the same pool from the same
//     data; its density estimates are saved with every checkpoint.
// After each checkpoint it writes DIR/reconstructions.png (atomically): a
// row of images of the last batch over the row of their reconstructions, for
// a person to look at.
//
// Checkpoint payload: GoalVae::Save (metadata "vae", blobs "vae.net",
// "vae.adam"), "step", metadata "vae_pool" {"index"} and blob
// "vae.pool_log_density" (float64 [skew_pool]) once skewing has started.
// Build checks the data: Error(kBadData) "<source>: ..." when it has no uint8
// [H,W,C] observation of the configured key, or (resume, --init) when the
// checkpoint's VAE was trained on another image shape or layers.
// Include only from LibTorch translation units.
#pragma once

#include <memory>
#include <string>

#include "train/learner.h"
#include "vae/goal_vae.h"
#include "vae/skew.h"
#include "vae/vae_config.h"

namespace perpetua {

class VaeLearner : public Learner {
 public:
  explicit VaeLearner(const VaeTrainConfig& config);
  ~VaeLearner() override;

  std::string algorithm() const override { return kVaeAlgorithm; }
  void Validate() const override { config_.Validate("vae"); }
  void Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
             const std::string& checkpoint_path) override;
  UpdateResult Update(Rng& rng, at::Generator& generator) override;
  int64_t step() const override { return vae_->steps(); }
  void Save(CheckpointContents* contents) override;
  std::string Describe() override;
  std::vector<torch::Tensor> ReplicatedState() override { return vae_->ReplicatedState(); }

  // The VAE (valid after Build).
  GoalVae& vae() { return *vae_; }
  // The skew pool's sampling distribution (empty before skewing starts).
  const SkewedPool& pool() const { return pool_; }
  // `n` images [n,H,W,C] uint8 of the skew pool, drawn with its weights
  // p(x)^alpha (as tempered) by `rng`: Skew-Fit's goals from seen states.
  // Undefined while the VAE is not skewing (alpha 0, warm-up, no update
  // yet). A resumed run draws from the saved pool. Not thread-safe: call
  // under the lock that guards Update.
  torch::Tensor DrawSkewedImages(int64_t n, Rng& rng);

 private:
  bool Skewing() const;
  // Draws pool `index` from the data (its images), and its densities unless `log_density` gives them.
  void DrawPool(int64_t index, const std::vector<double>* log_density, at::Generator* generator);
  // A resumed run's saved pool, drawn again with its saved densities (no-op otherwise).
  void RestorePool();
  torch::Tensor Images(const TransitionBatch& batch) const;
  void WriteReconstructions();

  VaeConfig config_;
  LearnerSetup setup_;
  std::unique_ptr<GoalVae> vae_;
  SkewedPool pool_;
  torch::Tensor pool_images_;            // [skew_pool,H,W,C] uint8
  int64_t pool_index_ = -1;              // which pool (-1: none yet)
  double pool_mean_density_ = 0.0;      // the pool's mean log density (a metric)
  int64_t resumed_index_ = -1;           // the pool a resumed checkpoint was training from
  std::vector<double> resumed_density_;  // that pool's saved densities, until it is redrawn
  torch::Tensor last_batch_;             // for reconstructions.png
};

}  // namespace perpetua
