#include "learners/register_learners.h"

#include "policy/checkpoint_policy.h"
#include "qtopt/q_checkpoint.h"
#include "qtopt/q_policy.h"

namespace perpetua {

void RegisterLearnerPolicies() {
  RegisterCheckpointPolicy(kQtOptAlgorithm, [](const std::string& path, const EnvSpec& expected,
                                               const PolicyLoadOptions& options) {
    CheckpointPolicyOptions q;
    q.device = options.device;
    q.seed = options.seed;
    return LoadPolicyFromCheckpoint(path, expected, q);
  });
}

}  // namespace perpetua
