#include "rollout/policy_factory.h"

#include <algorithm>

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

void AdoptCheckpointObservations(EnvConfig* env, const std::vector<std::string>& policies) {
  if (env->observe_time) return;
  for (const std::string& policy : policies) {
    if (policy.empty() || !IsCheckpointPolicy(policy) || !IsRegularFile(policy)) continue;
    InputSpec spec;
    try {
      spec = InputSpec::FromJson(ReadCheckpointMetadata(policy).at("input_spec"), policy);
    } catch (const std::exception&) {
      continue;  // MakePolicy reports what is wrong with it
    }
    if (std::find(spec.proprio_keys.begin(), spec.proprio_keys.end(), kTimeLeftKey) != spec.proprio_keys.end()) {
      env->observe_time = true;
      LogInfo(policy + " reads the observation time_left: the cell shows it (--cell.observe-time)");
      return;
    }
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
