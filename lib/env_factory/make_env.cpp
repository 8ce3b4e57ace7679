#include "env_factory/make_env.h"

#include <cmath>

#include "common/config.h"
#include "common/error.h"
#include "robot/remote_env.h"
#include "robot/transport.h"
#include "env/goal_env.h"
#include "env/time_left_env.h"
#include "env_factory/heldout_goal_set.h"
#include "sim/door_cell.h"
#include "sim/grasp_cell.h"
#include "sim/pendulum_cell.h"
#include "sim/push_cell.h"

namespace perpetua {
namespace {

void CheckConfig(const EnvConfig& config) {
  if (config.image_size < 16 || config.image_size > 1024) {
    Fail(ExitCode::kUsage, "image_size " + std::to_string(config.image_size) +
                               " is outside 16..1024");
  }
  if (config.max_episode_steps < 0) {
    Fail(ExitCode::kUsage, "max_episode_steps must be >= 0 (0: the cell's default)");
  }
  if (!config.push_target.empty()) {
    if (config.name != "push") Fail(ExitCode::kUsage, "--cell.push-target is for the push cell only");
    if (config.push_target.size() != 2 || std::abs(config.push_target[0]) > sim::kPushPlaceRange ||
        std::abs(config.push_target[1]) > sim::kPushPlaceRange) {
      Fail(ExitCode::kUsage, "--cell.push-target must be X,Y with |X|, |Y| <= 0.10 (metres)");
    }
  }
  if (config.door_start != "free" && config.door_start != "hooked") {
    Fail(ExitCode::kUsage, "--cell.door-start must be free or hooked, not '" + config.door_start + "'");
  }
  if (config.door_start != "free" && config.name != "door") {
    Fail(ExitCode::kUsage, "--cell.door-start is for the door cell only");
  }
  if (config.wrist_camera && config.name != "grasp") {
    Fail(ExitCode::kUsage, "--cell.wrist-camera is for the grasp cell only");
  }
  if (config.renderer != "auto" && config.renderer != "egl" && config.renderer != "osmesa") {
    std::string message = "unknown renderer '" + config.renderer + "': expected auto, egl or osmesa";
    const std::string suggestion = SuggestClosest(config.renderer, {"auto", "egl", "osmesa"});
    if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
    Fail(ExitCode::kUsage, message);
  }
}

}  // namespace

const std::vector<std::string>& KnownEnvNames() {
  static const std::vector<std::string> names = {"grasp", "push", "door", "pendulum"};
  return names;
}

std::unique_ptr<Env> MakeEnv(const EnvConfig& config, std::shared_ptr<GoalSupply> goals) {
  std::unique_ptr<Env> env;
  if (robot::IsRobotAddress(config.name)) {
    env = std::make_unique<robot::RemoteEnv>(config);
  } else {
    CheckConfig(config);
    if (config.name == "grasp") env = std::make_unique<sim::GraspCell>(config);
    if (config.name == "push") env = std::make_unique<sim::PushCell>(config);
    if (config.name == "door") env = std::make_unique<sim::DoorCell>(config);
    if (config.name == "pendulum") env = std::make_unique<sim::PendulumCell>(config);
  }
  if (env) {
    if (!config.goals.empty()) {
      if (!goals && IsVaeGoals(config.goals)) {
        Fail(ExitCode::kUsage, "--goals " + config.goals + ": goals drawn from a VAE are for rl-collect and rl-eval; " +
                                   "write them into a goal file with rl-goals sample");
      }
      if (!goals) goals = FileOrHeldoutGoalSupply(config);
      env = MakeGoalEnv(std::move(env), std::move(goals));
    }
    return config.observe_time ? MakeTimeLeftEnv(std::move(env)) : std::move(env);
  }
  std::string message = "unknown env '" + config.name + "': expected grasp, push, door or pendulum";
  const std::string suggestion = SuggestClosest(config.name, KnownEnvNames());
  if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
  Fail(ExitCode::kUsage, message);
}

std::unique_ptr<Env> MakeEnvFromArgs(const nlohmann::json& env_args) {
  return MakeEnv(EnvConfigFromArgs(env_args));
}

}  // namespace perpetua
