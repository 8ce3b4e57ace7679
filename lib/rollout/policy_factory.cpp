#include "rollout/policy_factory.h"

#include "common/error.h"
#include "common/fs.h"
#include "policy/checkpoint_policy.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"

namespace perpetua {

bool IsCheckpointPolicy(const std::string& policy) {
  return policy != "random" && policy != "scripted";
}

std::unique_ptr<Policy> MakePolicy(const std::string& policy, const EnvSpec& spec, uint64_t seed,
                                   const PolicyOptions& options) {
  if (policy == "random") return MakeRandomPolicy(spec, seed, options.random_terminate);
  if (policy == "scripted") return MakeScriptedPolicy(spec, options.scripted_noise, seed);
  if (policy.empty()) Fail(ExitCode::kUsage, "--policy is required: random, scripted or a checkpoint file");
  if (!IsRegularFile(policy)) {
    Fail(ExitCode::kUsage, "--policy '" + policy +
                               "': not 'random', 'scripted' or an existing checkpoint file");
  }
  PolicyLoadOptions checkpoint;
  checkpoint.device = options.device;
  checkpoint.seed = seed;
  checkpoint.explore = options.explore;
  return LoadCheckpointPolicy(policy, spec, checkpoint);
}

}  // namespace perpetua
