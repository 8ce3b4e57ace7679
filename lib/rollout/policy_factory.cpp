#include "rollout/policy_factory.h"

#include "common/config.h"
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
