// The settings of goal-conditioned SAC in a VAE's latent space (RIG, Nair,
// Pong et al. 2018; Skew-Fit, Pong, Dalal et al. 2020): rl-train sac --goals
// vae:CKPT. The policy sees its observation and its goal as VAE latents, the
// reward is minus their distance, and each batch's goals are relabelled:
// rollout goals (the episode's own goal image), sampled goals (seen states
// drawn with the skew weights, or the VAE's prior), and hindsight goals (a
// later state of the same episode). Defaults
// are rlkit's Skew-Fit door values (DESIGN.md: 20% rollout, 50% VAE-sampled,
// the rest hindsight; alpha -0.5). Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"

namespace perpetua {

// How each batch's goals are chosen and how the VAE keeps fitting in the run.
struct GoalRelabelConfig {
  double rollout_fraction = 0.2;  // rows keeping the episode's own goal (its goal image, encoded)
  double sampled_fraction = 0.5;  // rows whose goal is drawn (from --goal.sampled-from)
                                  // (the rest: a future state of the same episode, hindsight)
  // Where the sampled goals come from: "data" (the default), the encoded
  // image of a state the robot has seen, drawn from the VAE's skew pool
  // with the weights p(x)^alpha (rlkit's Skew-Fit,
  // relabeling_goal_sampling_mode 'custom_goal_sampler'), uniformly from the
  // batch's states while the VAE is not skewing (alpha 0, warm-up);
  // "prior", z ~ N(0, I) (the RIG paper's). Measured on the door
  // (docs/goals.md): seen states reached more held-out goals, for RIG and
  // for Skew-Fit alike.
  std::string sampled_from = "data";
  std::string goal_key = "goal_image";  // the observation holding each episode's goal image
  // The VAE keeps fitting on the run's data: one VAE step every fit_every SAC
  // updates (0: the VAE stays as loaded), on batches skewed by p(x)^alpha.
  int fit_every = 10;
  double alpha = -0.5;       // Skew-Fit exponent in [-1, 0] (0: RIG)
  double vae_lr = 1e-3;      // the VAE's Adam step size in the run
  int64_t skew_warmup = 0;   // VAE steps in the run before skewing starts (the loaded VAE is warm)
  int skew_pool = 2048;      // images whose densities weight the skewed VAE batches
  int skew_refresh = 200;    // VAE steps between redraws of the pool
  double skew_min_ess = 0.1; // temper the skew below this effective share of the pool (vae/skew.h); 0: off
  void Visit(ConfigVisitor& v) {
    v.Field("rollout_fraction", rollout_fraction, "share of each batch keeping the episode's own goal image");
    v.Field("sampled_fraction", sampled_fraction,
            "share of each batch with a sampled goal, see --goal.sampled-from (the rest: a later state of the same "
            "episode, hindsight)");
    v.Field("sampled_from", sampled_from,
            "data: encoded images of seen states drawn with the skew weights p(x)^alpha (uniformly while not "
            "skewing); prior: z ~ N(0, I)");
    v.Field("goal_key", goal_key, "the observation that holds each episode's goal image (rl-collect --goals)");
    v.Field("fit_every", fit_every, "one VAE step every N SAC updates on the run's data (0: the VAE stays as loaded)");
    v.Field("alpha", alpha, "Skew-Fit exponent of the VAE's training images, p(x)^alpha, in [-1, 0] (0: RIG)");
    v.Field("vae_lr", vae_lr, "the VAE's Adam learning rate in the run");
    v.Field("skew_warmup", skew_warmup, "VAE steps in the run before its batches are skewed");
    v.Field("skew_pool", skew_pool, "images whose density estimates weight the skewed VAE batches");
    v.Field("skew_refresh", skew_refresh, "VAE steps between redraws of the pool and its densities");
    v.Field("skew_min_ess", skew_min_ess,
            "temper the skew so that its effective sample size stays at least this share of the pool, in [0, 1] "
            "(0: p(x)^alpha as it is)");
  }
  // Throws Error(kUsage) naming the flag under `flag_prefix` ("goal").
  void Validate(const std::string& flag_prefix) const;
};

// rl-train sac's --goals and its group --goal.*.
struct GoalSettings {
  std::string goals;  // "": the data's rewards; "vae:CKPT": goal-conditioned in the latent space of an rl-goals VAE
  GoalRelabelConfig goal;
  void Visit(ConfigVisitor& v) {
    v.Field("goals", goals,
            "vae:CKPT: learn to reach goals in the latent space of an rl-goals fit VAE (reward: minus the latent "
            "distance; goals relabelled per --goal.*); empty: the data's rewards");
    v.Group("goal", goal, "goal-conditioned learning (with --goals vae:CKPT)");
  }
  bool enabled() const { return !goals.empty(); }
  // The VAE checkpoint's path ("vae:PATH" -> "PATH").
  std::string vae_path() const;
  // Error(kUsage) for a --goals that is not vae:PATH, or bad --goal.* values.
  void Validate() const;
};

}  // namespace perpetua
