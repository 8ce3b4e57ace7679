// The goals of goal-conditioned collection and evaluation (--goals,
// env/goal_env.h): one supply that every worker's env draws from.
//   FILE       a goal file (data/goal_file.h)
//   vae:CKPT   goals decoded from the VAE of CKPT (rl-goals fit's checkpoint,
//              or a goal-conditioned SAC checkpoint, which holds its VAE;
//              vae/goal_sampler.h), drawn with the run seed
//   heldout[:N] the cell's N held-out goals (default 40), each judged on the
//              cell's true state (env_factory/heldout_goal_set.h)
// `live` (rl-collect): the goals follow the file or checkpoint as it is
// replaced, from the next episode on. Not live (rl-eval): read once, so
// that every policy compared meets the same goals.
// Torch-free header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "env/env_config.h"
#include "env/goal_env.h"

namespace perpetua {

// How many goals vae:CKPT decodes per version of the VAE.
inline constexpr int64_t kVaeGoalCount = 256;

// nullptr when env.goals is empty. Throws as GoalFileSupply and
// MakeVaeGoalSupply do, Error(kUsage) for "vae:" without a path.
std::shared_ptr<GoalSupply> MakeGoalSupply(const EnvConfig& env, uint64_t seed, const std::string& device, bool live);

}  // namespace perpetua
