#include "rollout/goal_factory.h"

#include "common/error.h"
#include "env_factory/heldout_goal_set.h"
#include "env_factory/make_env.h"
#include "vae/goal_sampler.h"

namespace perpetua {

std::shared_ptr<GoalSupply> MakeGoalSupply(const EnvConfig& env, uint64_t seed, const std::string& device, bool live) {
  if (env.goals.empty()) return nullptr;
  std::shared_ptr<GoalSupply> supply;
  if (IsVaeGoals(env.goals)) {
    VaeGoalOptions options;
    options.checkpoint = env.goals.substr(4);
    if (options.checkpoint.empty()) Fail(ExitCode::kUsage, "--goals vae:CKPT needs the checkpoint's path after 'vae:'");
    EnvConfig bare = env;
    bare.goals.clear();
    const std::unique_ptr<Env> probe = MakeEnv(bare);
    for (const ObservationSpec& observation : probe->spec().observations) {
      if (observation.key == "image" && observation.dtype == DType::kUint8) options.image_shape = observation.shape;
    }
    if (options.image_shape.size() != 3) {
      Fail(ExitCode::kBadData, env.goals + ": goal images need a cell with a uint8 'image' observation; " + env.name +
                                   " has none");
    }
    options.count = kVaeGoalCount;
    options.seed = seed;
    options.device = device;
    supply = MakeVaeGoalSupply(options);
  } else {
    supply = FileOrHeldoutGoalSupply(env);
  }
  if (live) return supply;
  return FixedGoalSupply(*supply->Current(), supply->source());
}

}  // namespace perpetua
