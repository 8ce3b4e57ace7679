#include "learners/register_learners.h"

#include "nn/checkpoint.h"
#include "nn/torch_runtime.h"
#include "policy/checkpoint_policy.h"
#include "qtopt/q_checkpoint.h"
#include "qtopt/q_policy.h"
#include "sac/sac_config.h"
#include "sac/sac_policy.h"
#include "skewfit/goal_policy.h"

namespace perpetua {

void RegisterLearnerPolicies() {
  RegisterCheckpointPolicy(kQtOptAlgorithm, [](const std::string& path, const EnvSpec& expected,
                                               const PolicyLoadOptions& options) {
    CheckpointPolicyOptions q;
    q.device = options.device;
    q.seed = options.seed;
    return LoadPolicyFromCheckpoint(path, expected, q);
  });
  RegisterCheckpointPolicy(kSacAlgorithm, [](const std::string& path, const EnvSpec& expected,
                                             const PolicyLoadOptions& options) {
    const TorchRuntime runtime = ConfigureTorchRuntime(options.device, torch::get_num_threads());
    const CheckpointContents contents = ReadCheckpoint(path);
    const SacActionMode mode = options.explore ? SacActionMode::kSample : SacActionMode::kMean;
    if (IsLatentGoalCheckpoint(contents)) {  // rl-train sac --goals vae:CKPT
      return LoadLatentGoalPolicy(contents, path, expected, mode, torch::Device(runtime.device), options.seed);
    }
    return LoadSacPolicy(contents, path, expected, mode, torch::Device(runtime.device), options.seed);
  });
}

}  // namespace perpetua
