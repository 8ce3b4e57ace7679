#include "rollout/policy_factory.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "env/time_left_env.h"
#include "nn/checkpoint.h"
#include "nn/input_spec.h"
#include "policy/checkpoint_policy.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"

namespace perpetua {

bool IsCheckpointPolicy(const std::string& policy) {
  return policy != "random" && policy != "scripted";
}

namespace {

// The proprio_pose setting of the cell a checkpoint's data came from (its
// env_spec's env_args); true where the checkpoint does not record it.
bool TrainedWithProprioPose(const nlohmann::json& metadata) {
  const nlohmann::json* kwargs = nullptr;
  try {
    kwargs = &metadata.at("env_spec").at("env_args").at("env_kwargs");
  } catch (const nlohmann::json::exception&) {
    return true;
  }
  const auto found = kwargs->find("proprio_pose");
  return found == kwargs->end() || !found->is_boolean() || found->get<bool>();
}

}  // namespace

void AdoptCheckpointObservations(EnvConfig* env, const std::vector<std::string>& policies) {
  std::string with_pose, without_pose;  // a checkpoint of each kind, if any
  for (const std::string& policy : policies) {
    if (policy.empty() || !IsCheckpointPolicy(policy) || !IsRegularFile(policy)) continue;
    nlohmann::json metadata;
    InputSpec spec;
    try {
      metadata = ReadCheckpointMetadata(policy);
      spec = InputSpec::FromJson(metadata.at("input_spec"), policy);
    } catch (const std::exception&) {
      continue;  // MakePolicy reports what is wrong with it
    }
    if (!env->observe_time &&
        std::find(spec.proprio_keys.begin(), spec.proprio_keys.end(), kTimeLeftKey) != spec.proprio_keys.end()) {
      env->observe_time = true;
      LogInfo(policy + " reads the observation time_left: the cell shows it (--cell.observe-time)");
    }
    if (!env->wrist_camera &&
        std::find(spec.image_keys.begin(), spec.image_keys.end(), kWristImageKey) != spec.image_keys.end()) {
      env->wrist_camera = true;
      LogInfo(policy + " sees the wrist camera's image: the cell renders it (--cell.wrist-camera)");
    }
    (TrainedWithProprioPose(metadata) ? with_pose : without_pose) = policy;
  }
  if (without_pose.empty() || !env->proprio_pose) return;
  env->proprio_pose = false;
  LogInfo(without_pose + " learnt without the gripper's x, y and yaw: the cell's proprio reads 0 there "
          "(--no-cell.proprio-pose)");
  if (!with_pose.empty()) {
    LogWarning(with_pose + " learnt with the gripper's pose, " + without_pose +
               " without: both act on a cell without it");
  }
}

std::unique_ptr<Policy> MakePolicy(const std::string& policy, const EnvSpec& spec, uint64_t seed,
                                   const PolicyOptions& options) {
  if (policy == "random") return MakeRandomPolicy(spec, seed, options.random_terminate);
  if (policy == "scripted") return MakeScriptedPolicy(spec, options.scripted_noise, seed);
  if (policy.empty()) Fail(ExitCode::kUsage, "--policy is required: random, scripted or a checkpoint file");
  if (!IsRegularFile(policy)) {
    const std::string closest = SuggestClosest(policy, {"random", "scripted"});
    Fail(ExitCode::kUsage, "--policy '" + policy + "': not 'random', 'scripted' or an existing checkpoint file" +
                               (closest.empty() ? "" : " (did you mean '" + closest + "'?)"));
  }
  PolicyLoadOptions checkpoint;
  checkpoint.device = options.device;
  checkpoint.seed = seed;
  checkpoint.explore = options.explore;
  return LoadCheckpointPolicy(policy, spec, checkpoint);
}

}  // namespace perpetua
