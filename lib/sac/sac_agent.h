// The SAC agent: its state (actor, twin critics with their pixel encoder,
// target critics, three optimisers, the temperature, counters) and its
// update on one batch. The torch generator its randomness draws from (policy
// noise, image shifts) belongs to the caller, as the training run's does. What a training run needs from a
// learner, and nothing else:
//   Update(batch)            one gradient step (below)
//   Save / Load / InitFrom   its state in a checkpoint (bit-exact resume on CPU)
//   StatsRow(stats)          its metrics
//   ExportPolicy / MakePolicy  the policy it exports (sac_policy.h)
// Sampling, collection, checkpoint files and the metrics log live in the
// training run.
//
// One Update(batch):
//   1. pixels: random-shift s and s' (DrQ) by up to augment_shift pixels.
//   2. target y = CriticTarget(r, terminated, Q_target(s', a'), log pi(a'|s')),
//      a' ~ pi(.|s'), with alpha 0 in it unless entropy_reward; the features of s' come from the online encoder without
//      gradient (DrQ-v2: the target critics have no encoder of their own).
//   3. critics (and encoder): one Adam step on CriticLoss(Q(s, a), y), plus
//      the conservative penalty while its weight (cql_weight, falling over
//      cql_steps like behaviour cloning's) is above 0, then target <- Polyak(tau).
//   4. every policy_every-th update: actor: one Adam step on ActorLoss with the
//      critics' features of s detached (the encoder learns from the critic
//      loss only), plus the behaviour-cloning term while its weight
//      (FallingWeight) is above 0; temperature: one Adam step on log alpha by
//      ComputeTemperatureLoss (target entropy -|A| unless configured).
//   5. with policy_average > 0: the averaged policy (encoder and actor) <-
//      Polyak(max(policy_average, 1 / updates)) toward the live ones; the
//      exported policy acts with it.
// Actions: the critics read the data's actions rescaled from the env's box to
// [-1,1]; the policy's tanh output is rescaled to the box. With a discrete
// terminate (SacNetworkConfig::discrete_terminate on a cell that has one):
// the data's actions in CanonicalTerminate's form; in 2. the soft value of
// s' is HybridSoftValue over the target critics at (s', moving a') and at
// (s', terminate); in 4. the actor's loss is -mean HybridSoftValue at s and
// the temperature steers HybridLogProb (target entropy minus the motion's
// dimensions).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "dist/collective.h"
#include "nn/checkpoint.h"
#include "nn/metrics.h"
#include "policy/policy.h"
#include "nn/tensor_batch.h"
#include "sac/sac_config.h"
#include "nn/input_spec.h"
#include "sac/sac_networks.h"
#include "sac/sac_update.h"

namespace perpetua {

// Figures of one update (for metrics). Actor figures repeat the last actor
// update's on steps without one.
struct SacUpdateStats {
  double critic_loss = 0.0;   // CriticLoss before the step
  double actor_loss = 0.0;    // ActorLoss of the last actor update (without behaviour cloning)
  double bc_loss = 0.0;       // BehaviourCloningLoss of the last actor update (0 while its weight is 0)
  double bc_weight = 0.0;     // its weight then
  double cql_penalty = 0.0;   // ConservativePenalty of this update (0 while its weight is 0)
  double cql_weight = 0.0;    // its weight in this update
  double alpha = 0.0;         // temperature used by this update
  double alpha_loss = 0.0;    // temperature loss of the last actor update
  double entropy = 0.0;       // -mean log pi(a~|s) of the last actor update (squashed [-1,1] actions)
  double terminate_prob = 0.0;  // with a discrete terminate: the policy's mean probability of it then
  double q_mean = 0.0, q_min = 0.0, q_max = 0.0;  // Q(s,a) of both critics on the batch
  double target_mean = 0.0;   // mean soft Bellman target
  bool actor_updated = false; // this update stepped the actor and the temperature
};

// Wall time spent inside Update() by kind of work, accumulated (seconds).
struct SacUpdateTimes {
  double forward = 0.0;    // targets, network forward passes and losses
  double backward = 0.0;   // backward passes
  double optimizer = 0.0;  // Adam steps, Polyak averaging, figures and the NaN guard
};

class SacAgent {
 public:
  // Fresh networks (weights drawn from `seed` via torch's global generator),
  // target critics equal to the critics, log alpha = log(initial_alpha).
  // Throws Error(kUsage) for an invalid config (SacConfig::Validate).
  SacAgent(const SacConfig& config, const InputSpec& spec, const torch::Device& device, uint64_t seed);

  // One update as described in the file comment; batch tensors on device()
  // (ToTensorBatch); noise and shifts drawn from `generator` (CPU). Throws Error(kDiverged) "non-finite <what> at update N"
  // when a loss or the updated parameters are not finite (the state is then
  // partly updated: do not save it).
  SacUpdateStats Update(const TensorBatch& batch, at::Generator& generator);

  // The live encoder, actor and action box (SacActing::Act acts with them).
  const SacActing& acting() const { return acting_; }
  // What the exported policy acts with: the averaged encoder and actor with
  // policy_average > 0, else acting().
  const SacActing& exported() const { return config_.policy_average > 0.0 ? average_acting_ : acting_; }

  // Everything for a bit-exact resume (with the caller's generator): the
  // exported policy, the "sac.*" blobs, metadata "step" and "sac_state".
  void Save(CheckpointContents* contents) const;
  // Restores what Save wrote. Throws Error(kBadData) "<source>: ..." on a
  // missing part or one of other sizes.
  void Load(const CheckpointContents& contents, const std::string& source);
  // Warm start: actor, critics (targets = critics) and temperature from a SAC
  // checkpoint; fresh optimisers and counters; the averaged policy restarts
  // from the live one. Throws Error(kBadData).
  void InitFrom(const CheckpointContents& contents, const std::string& source);
  // The policy part of a checkpoint: metadata "algorithm", "sac_format",
  // "sac_network", "input_spec", the live weights ("sac.critic",
  // "sac.actor"), with policy_average > 0 the averaged encoder and actor
  // ("sac.policy_average", one flat buffer, encoder first; metadata
  // "sac_policy_average": the rate), and an example input with the exported
  // policy's mean action on it ("sac.example.*"), checked by LoadSacPolicy.
  void ExportPolicy(CheckpointContents* contents) const;
  // A policy that acts with this learner's exported() networks (no copy):
  // for collecting or evaluating in the same process. Its id() is `id`.
  std::unique_ptr<Policy> MakePolicy(SacActionMode mode, uint64_t seed, const std::string& id);

  // Data-parallel training (dist/collective.h): gradients and the entropy
  // that drives the temperature are averaged over the ranks in every
  // Update. Null (the default): one process.
  void SetCollective(Collective* collective) { collective_ = collective; }
  // The tensors every rank must hold identically: critics (and encoder),
  // actor, target critics, Adam moments and the temperature.
  std::vector<torch::Tensor> ReplicatedState() const;

  int64_t updates() const { return updates_; }
  double alpha() const;
  const SacConfig& config() const { return config_; }
  const InputSpec& spec() const { return spec_; }
  const torch::Device& device() const { return device_; }
  const SacUpdateTimes& times() const { return times_; }
  double target_entropy() const { return target_entropy_; }

 private:
  // With policy_average > 0 (else nothing): the averaged policy <- the live
  // one; <- Polyak(max(policy_average, 1 / updates)) toward it.
  void ResetAverage();
  void UpdateAverage();
  // Critic input [B,F+V]: encoder features (when images) and vectors.
  torch::Tensor Features(const torch::Tensor& images, const torch::Tensor& vectors);
  // With a discrete terminate: `critic` at features x [B,.] of the moving
  // actions of `motion` [B,A-1] and at the canonical terminate, [2,2B]
  // (columns 0..B-1 moving, B..2B-1 terminating).
  torch::Tensor HybridQ(TwinCriticImpl& critic, const torch::Tensor& x, const torch::Tensor& motion) const;
  // ConservativePenalty at features x of s (with gradient): cql_actions uniform actions and cql_actions
  // from each of pi(.|s') and pi(.|s) per row, drawn without gradient from `mean`, `log_std` [2B,A] (the
  // update's actor pass over [s'; s]); `data_q` [2,B].
  torch::Tensor Conservative(const torch::Tensor& x, const torch::Tensor& mean, const torch::Tensor& log_std,
                             const torch::Tensor& data_q, at::Generator& generator);

  SacConfig config_;
  InputSpec spec_;
  torch::Device device_;
  int64_t terminate_index_;  // DiscreteTerminateIndex: the discretely chosen component, or -1
  double target_entropy_;
  SacEncoder encoder_{nullptr};  // null without images
  GaussianActor actor_{nullptr};
  TwinCritic critic_{nullptr}, target_critic_{nullptr};
  FlatParameters critic_params_;  // encoder (first) and critics
  FlatParameters actor_params_;
  FlatParameters target_params_;
  torch::Tensor critic_head_values_;  // the critics' part of critic_params_.values(), Polyak's source
  FlatAdam critic_adam_, actor_adam_;
  double log_alpha_ = 0.0;
  ScalarAdam alpha_adam_;
  SacActing acting_;  // encoder_, actor_ and the action box
  // policy_average > 0: copies of the encoder and actor holding the averaged
  // weights (one flat buffer, encoder first), else empty.
  FlatParameters average_params_;
  SacActing average_acting_;
  int64_t encoder_size_ = 0;  // the encoder's part of critic_params_
  int64_t updates_ = 0;
  SacUpdateStats last_actor_;  // actor figures of the last actor update
  SacUpdateTimes times_;
  Collective* collective_ = nullptr;
};

// The stats as a metrics row ("critic_loss", "actor_loss", "alpha",
// "alpha_loss", "entropy", "q_mean", "q_min", "q_max", "target_mean", and
// "bc_loss", "bc_weight" when the config clones behaviour, "cql_penalty",
// "cql_weight" with the conservative penalty, "terminate_prob" with a
// discrete terminate).
MetricsLog::Row StatsRow(const SacUpdateStats& stats, bool behaviour_cloning, bool conservative = false,
                         bool discrete_terminate = false);

}  // namespace perpetua
