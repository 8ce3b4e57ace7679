// Batches in a VAE's latent space with relabelled goals (RIG / Skew-Fit).
//
// LatentGoalSource wraps the run's batches (replay/replay_mix.h) for a
// goal-conditioned learner. Each Sample draws a batch (with one future
// observation per row when the shares leave room for hindsight goals),
// encodes the images with the VAE's posterior means (goal and future images
// only for the rows whose goal they are), and returns a batch whose observations are
//   "latent"      z(s)  = mean of q(z | s[image_key])         float32 [L]
//   "latent_goal" g                                            float32 [L]
// (next_observations: z(s') and the same g), where each row's goal is, with
// the configured shares (goal_config.h), drawn with the batch's Rng:
//   rollout:   the episode's own goal, z(s[goal_key]) (data without goal
//              images: a sampled goal instead),
//   sampled:   --goal.sampled-from prior: g ~ N(0, I), the VAE's prior;
//              data: z of a seen state's image, drawn by `skewed_images`
//              (the VAE's skew pool, p(x)^alpha), or while that gives none
//              (not skewing) a state of a uniformly drawn row of the batch,
//   hindsight: z of a later observation of the same episode (s' or after).
// Reward: r = -||z(s') - g||_2, recomputed for the relabelled goal. No row is
// terminal: reaching a goal ends no episode (time limits bootstrap), and the
// data's own terminal flags belong to the cell's task, not to the goal's.
// The data's rewards are never read. Thread-safe: the VAE is read under
// `vae_mutex` (its trainer steps it under the same one).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "env/env.h"
#include "replay/replay_mix.h"
#include "skewfit/goal_config.h"
#include "vae/goal_vae.h"

namespace perpetua {

inline constexpr const char* kLatentKey = "latent";           // the policy's observation in latent space
inline constexpr const char* kLatentGoalKey = "latent_goal";  // its goal in latent space

// The spec a latent-goal learner is built on: observations "latent" and
// "latent_goal" (float32 [latent_dim]) and the data's action box.
EnvSpec LatentSpec(const EnvSpec& data_spec, int64_t latent_dim);

// Shares of the goals of the last batch drawn.
struct GoalMix {
  int64_t rollout = 0, sampled = 0, hindsight = 0;
  double mean_reward = 0.0;
};

// `n` images [n,H,W,C] of seen states drawn by `rng` with Skew-Fit's
// weights (VaeLearner::DrawSkewedImages), or an undefined tensor when there
// are none to draw from. Called under the VAE's mutex.
using SkewedImages = std::function<torch::Tensor(int64_t n, Rng& rng)>;

class LatentGoalSource : public BatchSource {
 public:
  // `image_key`: the camera the VAE reads; `has_goal_images`: the data holds
  // config.goal_key (rollout goals); without it rollout rows take sampled
  // goals. `skewed_images`: where --goal.sampled-from data draws (none:
  // uniformly from the batch's rows).
  LatentGoalSource(BatchSource* inner, GoalVae* vae, std::mutex* vae_mutex, GoalRelabelConfig config,
                   std::string image_key, bool has_goal_images, SkewedImages skewed_images = nullptr);
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override;
  int64_t online_received() const override { return inner_->online_received(); }
  GoalMix last_mix() const;

 private:
  // The sampled rows' `n` goals [n, latent] (under the VAE's mutex).
  torch::Tensor SampledGoals(int64_t n, int64_t latent, const TransitionBatch& raw, Rng& rng);

  BatchSource* inner_;
  GoalVae* vae_;
  std::mutex* vae_mutex_;
  GoalRelabelConfig config_;
  std::string image_key_;
  bool has_goal_images_;
  SkewedImages skewed_images_;
  mutable std::mutex mix_mutex_;
  GoalMix last_mix_;
};

}  // namespace perpetua
