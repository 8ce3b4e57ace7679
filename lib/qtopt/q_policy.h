// A QT-Opt checkpoint as a Policy: acts by CEM maximisation of the learned
// Q-function (no exploration: rl-collect adds epsilon-greedy on top). The
// loader registered for "qtopt" (learners/register_learners.h); tools load
// any checkpoint through policy/checkpoint_policy.h.
//
// This header is torch-free so rl-collect / rl-eval translation units stay cheap.
//
// Loading checks, in order, and throws Error(kBadData) with a one-line message
// that starts with the checkpoint path:
//   - the file exists and its container is intact (nn/checkpoint.h),
//   - the algorithm is one this loader knows ("qtopt"),
//   - its observation keys, dtypes and shapes and its action dimension and
//     bounds equal those of `expected` (the cell the policy will drive),
//   - the stored example input gives the stored example output (detects
//     corruption and a checkpoint written by incompatible code).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "env/env.h"
#include "policy/policy.h"

namespace perpetua {

struct CheckpointPolicyOptions {
  std::string device = "cpu";  // "cpu" or "cuda[:N]" (see nn/torch_runtime.h)
  uint64_t seed = 0;           // seeds the CEM sampling; BeginEpisode(s) reseeds from s
  int cem_iterations = 0;      // 0: as trained (checkpoint's config)
  int cem_samples = 0;         // 0: as trained
  int cem_elites = 0;          // 0: as trained
};

// Loads a QT-Opt checkpoint and returns a policy for a cell with spec `expected`. The policy's id() is "checkpoint:<id>" (see
// ReadCheckpointId in nn/checkpoint.h). Act() uses only observation entries
// named in the checkpoint's spec (the image and proprio keys) and ignores info.
// Throws Error(kBadData) as described in the file comment, Error(kUsage) /
// Error(kEnvFailure) for a bad or unavailable device.
std::unique_ptr<Policy> LoadPolicyFromCheckpoint(const std::string& path, const EnvSpec& expected,
                                                 const CheckpointPolicyOptions& options = {});

}  // namespace perpetua
