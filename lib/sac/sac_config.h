// The settings of the SAC learner (Haarnoja et al. 2018, "Soft Actor-Critic
// Algorithms and Applications"): network sizes, the update's constants and the
// schedule of its parts. Defaults are CleanRL's (sac_continuous_action.py);
// DESIGN.md lists them. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "train/training_run.h"
#include "skewfit/goal_config.h"
#include "vice/vice_config.h"

namespace perpetua {

inline constexpr const char* kSacAlgorithm = "sac";  // checkpoint metadata "algorithm"
inline constexpr int kSacFormat = 1;                 // checkpoint metadata "sac_format"

// Network sizes (saved in every checkpoint; a checkpoint loads only into the same sizes).
struct SacNetworkConfig {
  std::vector<int> hidden = {256, 256};  // widths of the actor's and of each critic's hidden layers (ReLU)
  // Pixels only (ignored without image observations): the conv encoder shared
  // by the critics (DrQ's shape, with more striding for small CPUs).
  std::vector<int> encoder_channels = {32, 32, 32, 32};  // one 3x3 conv + ReLU per entry
  std::vector<int> encoder_strides = {2, 2, 2, 1};       // stride of each conv (same length)
  int feature_dim = 50;                                  // encoder output: Linear, LayerNorm, tanh
  // K > 0: the encoder's output is instead K spatial-softmax keypoints of a
  // 1x1 conv over the last map (nn/spatial_softmax.h), 2K features in [-1,1]
  // (robomimic's image encoders; feature_dim then unused). 0: off.
  int keypoints = 0;
  double log_std_min = -5.0, log_std_max = 2.0;          // the actor's log std, squashed into this range
  // On a cell with a "terminate" component (nn/input_spec.h; grasp): the policy decides to terminate
  // with its own probability (a Bernoulli head beside the Gaussian over the other components) and the
  // critics see every terminating action in one canonical form, so "terminate" is one action, valued
  // once per state, not a continuous input the critics extrapolate over (sac_update.h, "Hybrid
  // actions"). Ignored on cells without the component. Checkpoints from before it load as false.
  bool discrete_terminate = false;
  // The encoder's output size: 2 * keypoints, or feature_dim.
  int64_t EncoderOutputDim() const { return keypoints > 0 ? 2 * int64_t{keypoints} : feature_dim; }
  void Visit(ConfigVisitor& v) {
    v.Field("hidden", hidden, "hidden layer widths of the actor and of each critic");
    v.Field("encoder_channels", encoder_channels, "pixels: channels of each 3x3 conv of the shared encoder");
    v.Field("encoder_strides", encoder_strides, "pixels: stride of each encoder conv");
    v.Field("feature_dim", feature_dim, "pixels: encoder output features (Linear, LayerNorm, tanh)");
    v.Field("keypoints", keypoints,
            "pixels: K > 0 ends the encoder in K spatial-softmax keypoints (2K features, the expected image position "
            "of each of K learnt features) instead of Linear, LayerNorm, tanh; 0: off");
    v.Field("log_std_min", log_std_min, "lower bound of the actor's log standard deviation");
    v.Field("log_std_max", log_std_max, "upper bound of the actor's log standard deviation");
    v.Field("discrete_terminate", discrete_terminate,
            "cells with a terminate action: terminate is a discrete choice of the policy, valued once per state by "
            "the critics (off: one more continuous component)");
  }
  nlohmann::json ToJson() const;
  // Throws Error(kBadData) "<source>: ..." on missing or invalid fields.
  static SacNetworkConfig FromJson(const nlohmann::json& json, const std::string& source);
  // Throws Error(kUsage) naming `flag_prefix` ("network") on invalid values.
  void Validate(const std::string& flag_prefix) const;
};

// The update (sac_learner.h) and its schedule over environment steps.
struct SacConfig {
  SacNetworkConfig network;
  double actor_lr = 3e-4;        // Adam step size of the actor
  double critic_lr = 1e-3;       // Adam step size of the twin critics (and the pixel encoder)
  double alpha_lr = 1e-3;        // Adam step size of log alpha
  double adam_eps = 1e-8;        // Adam epsilon (all three optimisers)
  int batch_size = 256;          // transitions per update
  double gamma = 0.99;           // discount
  double tau = 0.005;            // Polyak rate of the target critics (and target encoder) per critic update
  double initial_alpha = 1.0;    // temperature at step 0 (CleanRL: log alpha starts at 0)
  double target_entropy = 0.0;   // entropy the temperature steers to; 0: -|A| (the papers' choice)
  int warmup_steps = 5000;       // environment steps of uniform random actions before any update
  int policy_every = 2;          // actor and temperature update every N critic updates (TD3-style delay)
  double updates_per_step = 1.0; // update-to-data ratio: updates per environment step after warm-up
  int augment_shift = 4;         // pixels: DrQ random shift by up to N pixels (0: off)
  // The critics' target counts the entropy bonus -alpha log pi(a'|s') as a reward of every step (the
  // papers' SAC). Off: only the actor is entropy-regularised and Q is the task's own return ("SAC without
  // the entropy reward", Yu et al. 2022), so on a task that can end early the bonus neither rewards nor
  // penalises ending it.
  bool entropy_reward = true;
  // Behaviour cloning in the actor's loss (TD3+BC, Fujimoto & Gu 2021; annealed as in learning from
  // demonstrations, Nair et al. 2018): + FallingWeight(bc_weight, bc_steps, update) times the mean over the
  // batch's rows and action components of (tanh(mean of pi(.|s)) - a)^2, a the data's action in [-1,1]. It
  // holds the policy near what the data did (on grasp the loop's bootstrap is a noisy grasp heuristic)
  // while the critics are still wrong about actions the data never tried. 0: plain SAC.
  double bc_weight = 0.0;
  int bc_steps = 0;  // updates over which the weight falls linearly to 0 (0: it stays)
  // Which rows are cloned: "all", or "positive-return": the rows whose episode's stored rewards from that
  // step on sum above 0 (on grasp and push: the steps of successful episodes; self-imitation, Oh et al. 2018,
  // with a return threshold of 0). Not with rewards that replace the data's (--reward vice, --goals).
  std::string bc_rows = "all";
  // A conservative penalty in the critics' loss (CQL(H), Kumar et al. 2020): + FallingWeight(cql_weight,
  // cql_steps, update) times ConservativePenalty (sac_update.h): each critic's soft maximum over actions the
  // data did not take (cql_actions uniform ones, cql_actions from pi(.|s), cql_actions from pi(.|s'),
  // importance-weighted) minus its value at the data's action. It pushes down what the critics think of
  // untried actions (on grasp: "terminate" where the data never terminated) and up what the data did. 0: off.
  double cql_weight = 0.0;
  int cql_steps = 0;    // updates over which the weight falls linearly to 0 (0: it stays)
  int cql_actions = 4;  // actions per state from each of the three sources
  // The exported policy (checkpoints, MakePolicy) acts with an exponential moving average of the actor's
  // and the pixel encoder's weights (Polyak-Ruppert averaging of the iterates; "EMA" of the policy), updated
  // after every update at rate max(policy_average, 1 / updates): a plain mean over the first 1 / rate updates,
  // then a window of about 1 / rate updates. The learner's own updates, and acting(), use the live weights.
  // 0: the exported policy is the live one.
  double policy_average = 0.0;
  // n-step returns (rl-train's dataset buffers; 1: one-step): the critics' target is the discounted sum of
  // the next n stored rewards plus gamma^n times the soft value n steps on (fewer where the episode ends
  // first), the entropy bonus counted at that state only. Uncorrected for the data's policy (as in Rainbow
  // and R2D2): the sum is the behaviour's return over those steps. Not with rewards that replace the data's
  // (--reward vice, --goals), nor in the in-process environment loop.
  int n_step = 1;
  // Every field; VisitUpdate: only the update's (what rl-train sac takes).
  void Visit(ConfigVisitor& v) {
    VisitUpdate(v);
    v.Field("batch_size", batch_size, "transitions per update");
    v.Field("warmup_steps", warmup_steps, "environment steps with uniform random actions before updates start");
    v.Field("updates_per_step", updates_per_step, "updates per environment step (update-to-data ratio)");
  }
  void VisitUpdate(ConfigVisitor& v) {
    v.Group("network", network, "network sizes");
    v.Field("actor_lr", actor_lr, "actor Adam learning rate");
    v.Field("critic_lr", critic_lr, "critic (and pixel encoder) Adam learning rate");
    v.Field("alpha_lr", alpha_lr, "temperature (log alpha) Adam learning rate");
    v.Field("adam_eps", adam_eps, "Adam epsilon");
    v.Field("gamma", gamma, "discount factor");
    v.Field("tau", tau, "Polyak averaging rate of the target critics per update");
    v.Field("initial_alpha", initial_alpha, "initial entropy temperature");
    v.Field("target_entropy", target_entropy, "target policy entropy (0: minus the action dimension)");
    v.Field("policy_every", policy_every, "actor and temperature update every N critic updates");
    v.Field("augment_shift", augment_shift, "pixels: random shift of training images by up to N pixels (0: off)");
    v.Field("entropy_reward", entropy_reward,
            "the critics' target counts the entropy bonus as a reward of each step (--no-sac.entropy-reward: "
            "only the actor is entropy-regularised)");
    v.Field("bc_weight", bc_weight,
            "behaviour cloning: weight of the squared distance of the policy's mean action to the data's "
            "action in the actor's loss (0: off)");
    v.Field("bc_steps", bc_steps, "behaviour cloning: updates over which its weight falls linearly to 0 (0: it stays)");
    v.Field("bc_rows", bc_rows,
            "behaviour cloning: all rows, or positive-return: the steps whose episode's rewards from there on sum "
            "above 0 (the successful episodes on grasp and push)");
    v.Field("cql_weight", cql_weight,
            "conservative penalty (CQL): weight of the critics' soft maximum over untried actions minus their value "
            "at the data's action, in the critics' loss (0: off)");
    v.Field("cql_steps", cql_steps, "conservative penalty: updates over which its weight falls linearly to 0 (0: it stays)");
    v.Field("cql_actions", cql_actions,
            "conservative penalty: actions per state from each source (uniform, pi(.|s), pi(.|s'))");
    v.Field("policy_average", policy_average,
            "the exported policy acts with a moving average of the actor's and encoder's weights at this rate per "
            "update (a window of about 1/rate updates; 0: the live weights)");
    v.Field("n_step", n_step,
            "n-step returns: the critics' target sums the next N stored rewards, discounted, and bootstraps N "
            "steps on (1: one-step)");
  }
  // Throws Error(kUsage) naming the flag (prefixed by `flag_prefix`, "" for none) on invalid values.
  void Validate(const std::string& flag_prefix) const;
};

// RLtools' pendulum SAC (the speed reference in DESIGN.md; its
// rl/zoo/pendulum-v1 and loop defaults): 64-64 MLPs, batch 100, Adam with
// learning rate 1e-3 and epsilon 1e-7 for all three optimisers, 100 warm-up
// steps, an actor update with every critic update, initial alpha 0.5.
SacConfig RlToolsPendulumConfig();

// rl-train sac: the run's flags (--data, --online, --out, --steps, --batch-size, ...)
// and the update's under "sac" (--sac.actor-lr, --sac.network.hidden, ...:
// SacConfig::VisitUpdate). The run's --batch-size is the update's; the
// in-process loop's batch_size, warmup_steps and updates_per_step are not flags.
// --reward vice learns the rewards beside SAC (vice/vice_learner.h); --goals
// vae:CKPT learns to reach goals in a VAE's latent space (skewfit/goal_learner.h).
struct SacTrainConfig : TrainRunConfig {
  SacConfig sac;
  RewardSettings reward;
  GoalSettings goals;
  void Visit(ConfigVisitor& v) {
    TrainRunConfig::Visit(v);
    struct UpdateFields {
      SacConfig* config;
      void Visit(ConfigVisitor& visitor) { config->VisitUpdate(visitor); }
    } update{&sac};
    v.Group("sac", update, "soft actor-critic update");
    reward.Visit(v);
    goals.Visit(v);
  }
};

}  // namespace perpetua
