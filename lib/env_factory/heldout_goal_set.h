// The held-out goals of a simulated cell as a goal set (sim/heldout_goals.h:
// N goals spread over the cell's goal range, each the cell's own task, judged
// on its true state): what `rl-goals heldout` writes into a goal file, and what
// `--goals heldout[:N]` gives rl-eval and rl-collect without a file.
//
// Goal i is rendered in the state reached by Reset(DeriveSeed(seed, 32, i))
// with the goal's reset options (the hand where an episode starts) and then
// its goal state (StateRenderer). The set's meta has "source": "heldout",
// "cell", "env_args", "seed", "image_key", "threshold" (the cell's distance,
// "0.08 rad of the hinge angle") and "goals" (one object per goal: "reset",
// "state", "region"). The same cell settings, count and seed give the same
// images byte for byte, so `--goals heldout:40` meets exactly the goals of
// `rl-goals heldout --count 40` (seed 0). Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/goal_file.h"
#include "env/env_config.h"
#include "env/goal_env.h"

namespace perpetua {

// Goals `--goals heldout` makes when it names no count, and the most it makes.
inline constexpr int64_t kHeldoutGoalCount = 40;
inline constexpr int64_t kMaxHeldoutGoals = 100000;

// EnvConfig::goals of the form heldout or heldout:N.
inline bool IsHeldoutGoals(const std::string& goals) { return goals == "heldout" || goals.rfind("heldout:", 0) == 0; }

// `count` (1..100000) held-out goals of the cell `env` names (env.goals is
// ignored). Error(kUsage) for a count out of range, a cell without held-out
// goals (grasp, pendulum, a robot) or one that cannot render a state.
GoalSet HeldoutGoalSet(const EnvConfig& env, int64_t count, uint64_t seed);

// --goals heldout[:N]: HeldoutGoalSet(env, N, 0) as a fixed supply named
// "heldout:N" (N defaults to kHeldoutGoalCount). Error(kUsage) "--goals
// heldout:N: ..." for an N that is not a whole number in 1..100000, and as
// HeldoutGoalSet.
std::shared_ptr<GoalSupply> HeldoutGoalSupply(const EnvConfig& env);

// The supply of an env.goals that needs no VAE: HeldoutGoalSupply for
// heldout[:N], else GoalFileSupply (data/goal_file.h) of the file it names.
// MakeEnv uses it when given no supply; rollout/goal_factory.h adds vae:CKPT.
std::shared_ptr<GoalSupply> FileOrHeldoutGoalSupply(const EnvConfig& env);

}  // namespace perpetua
