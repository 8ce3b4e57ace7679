// Goal-conditioned SAC in a VAE's latent space: rl-train sac --goals vae:CKPT
// (RIG, Nair, Pong et al. 2018; Skew-Fit, Pong, Dalal et al. 2020).
//
// LatentGoalLearner wraps the SAC learner and the run's batches:
//   Build:  the VAE from --goals vae:CKPT (fresh run) or from the run's own
//           checkpoint (resume, --init), as a VaeLearner (vae/vae_learner.h)
//           that keeps fitting on the run's data with --goal.alpha's skew;
//           the inner SAC is built on LatentSpec (latent_goals.h) and fed by
//           a LatentGoalSource: latent observations, relabelled goals,
//           rewards -||z(s') - g||.
//   Update: every fit_every-th update one VAE step (its own batch of the
//           run's mix, skewed), then the SAC update on a relabelled batch.
//   Save:   the VAE's state (vae/vae_learner.h: metadata "vae", "vae_pool";
//           blobs "vae.*"), then SAC's (its "step" is the run's), then
//           metadata "goals" {"vae" (the path it started from), "image_key",
//           "goal_key", "latent_dim", "relabel", "last_vae_metrics"}: the policy loader
//           (goal_policy.h) reads observation and goal images through the
//           checkpoint's own VAE. Resume is bit-exact on CPU: both draw from
//           the run's saved streams.
// The data must hold the VAE's image (uint8, the VAE's channels); its
// goal_key observation, when present, must be an image of the same shape.
// Metrics (after SAC's): goal_reward (mean relabelled reward), goal_rollout,
// goal_sampled, goal_hindsight (shares of the batch), vae_loss, vae_kl,
// vae_log_likelihood, vae_skew_ess (the last VAE step's; 0 before the first).
// Include only from LibTorch translation units.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "skewfit/goal_config.h"
#include "skewfit/latent_goals.h"
#include "train/learner.h"
#include "vae/vae_learner.h"

namespace perpetua {

class LatentGoalLearner : public WrappingLearner {
 public:
  LatentGoalLearner(const GoalSettings& settings, int batch_size, std::unique_ptr<Learner> inner);
  ~LatentGoalLearner() override;

  void Validate() const override;
  // Error(kBadData): a VAE checkpoint that cannot be read or holds no VAE,
  // data without the VAE's image or with a goal image of another shape, a
  // resumed checkpoint without the VAE.
  void Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
             const std::string& checkpoint_path) override;
  UpdateResult Update(Rng& rng, at::Generator& generator) override;
  void Save(CheckpointContents* contents) override;
  std::string Describe() override;
  // SAC's and the VAE's: both average their gradients over the ranks.
  std::vector<torch::Tensor> ReplicatedState() override;

  GoalVae& vae() { return vae_->vae(); }

 private:
  GoalSettings settings_;
  int batch_size_;
  std::unique_ptr<VaeLearner> vae_;
  std::mutex vae_mutex_;
  std::unique_ptr<LatentGoalSource> source_;
  std::string image_key_;
  std::vector<Metric> vae_metrics_;  // the last VAE step's, "vae_"-prefixed
};

// `learner` as the settings ask: itself without --goals, wrapped in a
// LatentGoalLearner with --goals vae:CKPT. Throws Error(kUsage) for bad settings.
std::unique_ptr<Learner> WithGoals(const GoalSettings& settings, int batch_size, std::unique_ptr<Learner> learner);

}  // namespace perpetua
