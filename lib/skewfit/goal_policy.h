// The policy of a goal-conditioned SAC checkpoint (goal_learner.h): it reads
// the cell's camera image and goal image (rl-collect / rl-eval --goals FILE,
// env/goal_env.h), encodes both with the checkpoint's own VAE (posterior
// means) and acts with the SAC actor on "latent" and "latent_goal".
//
// LoadLatentGoalPolicy throws Error(kBadData) with one line starting with
// `source` when the checkpoint's metadata "goals" or its VAE is missing or
// malformed, when the cell lacks the image or the goal image ("run the cell
// with --goals FILE"), or for LoadSacPolicy's reasons (sac/sac_policy.h).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "env/env.h"
#include "nn/checkpoint.h"
#include "policy/policy.h"
#include "sac/sac_networks.h"
#include "vae/goal_vae.h"

namespace perpetua {

class LatentGoalPolicy : public Policy {
 public:
  LatentGoalPolicy(std::unique_ptr<Policy> latent_policy, std::unique_ptr<GoalVae> vae, std::string image_key,
                   std::string goal_key);
  void BeginEpisode(uint64_t episode_seed) override { latent_policy_->BeginEpisode(episode_seed); }
  // Error(kBadData) "observation lacks the key ..." for a missing image or goal.
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override;
  std::string id() const override { return latent_policy_->id(); }

 private:
  std::unique_ptr<Policy> latent_policy_;
  std::unique_ptr<GoalVae> vae_;
  std::string image_key_, goal_key_;
};

// True when a checkpoint's metadata holds a goal-conditioned policy (metadata "goals").
bool IsLatentGoalCheckpoint(const CheckpointContents& contents);

std::unique_ptr<Policy> LoadLatentGoalPolicy(const CheckpointContents& contents, const std::string& source,
                                             const EnvSpec& expected, SacActionMode mode, const torch::Device& device,
                                             uint64_t seed);

}  // namespace perpetua
