// A goal supply (env/goal_env.h) that follows a file: `load` reads the goals
// when the supply is made (its errors are thrown) and again whenever the file
// at `path` is replaced (common/fs.h FileStamp). A later load that fails with
// Error is warned about once and the goals loaded before stay. Thread-safe;
// one stat per Current() while nothing changes. The goal file
// (data/goal_file.h) and vae:CKPT (vae/goal_sampler.h) both follow this way.
// Torch-free.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "env/goal_env.h"

namespace perpetua {

std::shared_ptr<GoalSupply> FollowedGoals(std::string path, std::string source,
                                          std::function<std::shared_ptr<const GoalImages>()> load);

}  // namespace perpetua
