// Checkpoint -> Policy by algorithm: the one registry that turns any
// checkpoint rl-train writes into a Policy, picking the loader from the
// checkpoint's metadata "algorithm" ("qtopt", "sac", ...).
//
// Loaders are registered explicitly, not by static initialisers (which the
// linker drops from static libraries): tools call RegisterLearnerPolicies()
// (learners/register_learners.h, the layer above every learner folder) at
// start. So rollout, collect and eval use checkpoints without depending on
// any learner folder.
//
// Torch-free header (compiled into perpetua_nn: it reads checkpoint files).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "env/env.h"
#include "policy/policy.h"

namespace perpetua {

// What every checkpoint policy takes.
struct PolicyLoadOptions {
  std::string device = "cpu";  // "cpu" or "cuda[:N]" (nn/torch_runtime.h)
  uint64_t seed = 0;           // the run seed; policies reseed from (seed, episode seed) in BeginEpisode
  bool explore = true;         // stochastic policies (SAC): sample (collection) or act with the mean (evaluation)
};

// Loads the checkpoint at `path` as a policy for a cell with spec `expected`.
// The policy's id() is "checkpoint:<metadata id>". Throws Error(kBadData)
// "<path>: ..." for a corrupt checkpoint or one written for other specs.
using CheckpointPolicyLoader =
    std::function<std::unique_ptr<Policy>(const std::string& path, const EnvSpec& expected,
                                          const PolicyLoadOptions& options)>;

// Registers `loader` for checkpoints of `algorithm` (replaces an earlier
// registration of the same name). Thread-safe.
void RegisterCheckpointPolicy(const std::string& algorithm, CheckpointPolicyLoader loader);

// The algorithms registered so far, sorted.
std::vector<std::string> RegisteredCheckpointAlgorithms();

// Reads the checkpoint's "algorithm" and calls its loader. Throws
// Error(kBadData) "<path>: ..." for an unreadable checkpoint, and "<path>:
// checkpoint algorithm 'x' is not supported (this build reads: a, b)" when no
// loader is registered for it; the loader's errors otherwise.
std::unique_ptr<Policy> LoadCheckpointPolicy(const std::string& path, const EnvSpec& expected,
                                             const PolicyLoadOptions& options);

}  // namespace perpetua
