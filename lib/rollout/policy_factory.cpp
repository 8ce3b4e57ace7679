#include "rollout/policy_factory.h"

#include "common/error.h"
#include "common/fs.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "qtopt/q_policy.h"

namespace perpetua {

bool IsCheckpointPolicy(const std::string& policy) {
  return policy != "random" && policy != "scripted";
}

std::unique_ptr<Policy> MakePolicy(const std::string& policy, const EnvSpec& spec, uint64_t seed,
                                   const PolicyOptions& options) {
  if (policy == "random") return MakeRandomPolicy(spec, seed);
  if (policy == "scripted") return MakeScriptedPolicy(spec, options.scripted_noise, seed);
  if (policy.empty()) Fail(ExitCode::kUsage, "--policy is required: random, scripted or a checkpoint file");
  if (!IsRegularFile(policy)) {
    Fail(ExitCode::kUsage, "--policy '" + policy +
                               "': not 'random', 'scripted' or an existing checkpoint file");
  }
  CheckpointPolicyOptions checkpoint;
  checkpoint.device = options.device;
  checkpoint.seed = seed;
  return LoadPolicyFromCheckpoint(policy, spec, checkpoint);
}

void CellFlags::Visit(ConfigVisitor& v) {
  v.Field("image_size", env->image_size, "square camera image side in pixels");
  v.Field("max_objects", env->max_objects, "grasp: objects dropped per episode, drawn in 1..N");
  v.Field("max_episode_steps", env->max_episode_steps, "time limit in steps; 0 = cell default");
  v.Field("renderer", env->renderer, "offscreen GL: auto | egl | osmesa (env PERPETUA_GL for auto)");
  v.Group("randomize", env->randomize, "domain randomisation switches");
}

void VisitEnvFlags(ConfigVisitor& v, EnvConfig& env, CellFlags& cell) {
  cell.env = &env;
  v.Field("env", env.name, "cell: grasp | push | door | pendulum");
  v.Field("objects", env.objects, "grasp object set: train | heldout | comma-separated ids");
  v.Group("cell", cell, "cell settings");
}

}  // namespace perpetua
