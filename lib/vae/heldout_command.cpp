#include "vae/heldout_command.h"

#include <iostream>

#include "data/goal_file.h"
#include "env_factory/heldout_goal_set.h"

namespace perpetua {

void HeldoutGoalsConfig::Validate(bool inputs) const {
  if (inputs && out.empty()) Fail(ExitCode::kUsage, "--out is required");
  if (count < 1 || count > kMaxHeldoutGoals) {
    Fail(ExitCode::kUsage, "--count must be in 1.." + std::to_string(kMaxHeldoutGoals));
  }
  if (!env.goals.empty()) Fail(ExitCode::kUsage, "--goals: held-out goals are made from the cell itself, not a goal file");
}

ExitCode RunHeldoutGoals(const HeldoutGoalsConfig& config) {
  config.Validate();
  WriteGoalFile(config.out, HeldoutGoalSet(config.env, config.count, config.seed));
  std::cout << config.out << std::endl;
  return ExitCode::kOk;
}

}  // namespace perpetua
