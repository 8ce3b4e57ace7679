// Creating environments by name: the one place that knows every simulated
// cell (sim/) and the robot client (robot/), so it sits above both.
//
// Tools and tests never construct a cell class directly: they fill an
// EnvConfig (env/env_config.h: from YAML/flags, or from a dataset's saved
// env_args) and call MakeEnv.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/env.h"
#include "env/env_config.h"
#include "env/goal_env.h"

namespace perpetua {

// Names MakeEnv accepts (without the tcp:// and unix:// forms).
const std::vector<std::string>& KnownEnvNames();

// Creates the cell `config.name`, or connects to the robot at a tcp:// or
// unix:// address (robot/remote_env.h; config.robot applies). Throws Error(kUsage) for an unknown name
// (with a "did you mean" suggestion) or invalid settings (image_size outside
// 16..1024, max_objects outside 1..8, a bad object list, an unknown
// renderer), Error(kEnvFailure) if the simulator or renderer cannot start.
// The returned Env is driven by one thread at a time; it owns its GL context,
// so several envs may run in different threads of one process.
// With config.goals set, the cell observes goal images (env/goal_env.h) from
// `goals` when given (one supply may serve many envs: rollout/goal_factory.h),
// else from the goal file config.goals names, or the cell's held-out goals
// for heldout[:N] (env_factory/heldout_goal_set.h); Error(kUsage) for
// vae:CKPT, which needs a supply.
std::unique_ptr<Env> MakeEnv(const EnvConfig& config, std::shared_ptr<GoalSupply> goals = nullptr);

// MakeEnv(EnvConfigFromArgs(env_args)): the cell a dataset or checkpoint came from.
std::unique_ptr<Env> MakeEnvFromArgs(const nlohmann::json& env_args);

}  // namespace perpetua
