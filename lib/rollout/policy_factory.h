// Turning the --policy argument of rl-collect and rl-eval into a Policy:
// "random", "scripted" (the cell's privileged script) or the path of any
// checkpoint rl-train writes (policy/checkpoint_policy.h: the loader of its
// algorithm, registered by learners/register_learners.h). (The flags both tools share to pick a cell,
// CellFlags and VisitEnvFlags, live in env/env_config.h.)
//
// Compiled into perpetua_nn (it loads checkpoints); the header is torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "env/env.h"
#include "env/env_config.h"
#include "policy/policy.h"

namespace perpetua {

// How a policy is built, besides its name.
struct PolicyOptions {
  double scripted_noise = 0.0;  // "scripted": Gaussian noise on the script (scripted_policy.h)
  double random_terminate = -1.0;  // "random": P(terminate) per step (random_policy.h); < 0: uniform
  std::string device = "cpu";   // checkpoints: "cpu" or "cuda[:N]"
  bool explore = true;          // checkpoints: sample from stochastic policies (false: their mean; rl-eval)
};

// True unless `policy` is "random" or "scripted".
bool IsCheckpointPolicy(const std::string& policy);

// A checkpoint trained with the clock in its observations (--cell.observe-time,
// env/time_left_env.h) acts only on a cell that shows it: when any of
// `policies` is such a checkpoint, turns env->observe_time on (and logs it
// once), so that `rl-eval --policy loop/promoted.ckpt` needs no extra flag.
// Likewise a checkpoint whose data came from a cell without the gripper's
// pose in proprio (--no-cell.proprio-pose, recorded in its env_spec's
// env_args) turns env->proprio_pose off: the same shapes with other meanings
// would pass every check and act blind. (A --compare pair that disagrees:
// both act without the pose, with a warning.) A checkpoint that reads the
// grasp cell's wrist image (--cell.wrist-camera) turns env->wrist_camera on.
// Reads only checkpoint metadata; unreadable files are left to MakePolicy.
void AdoptCheckpointObservations(EnvConfig* env, const std::vector<std::string>& policies);

// A fresh policy for a cell with spec `spec`. `seed` is the run seed: the
// random, scripted and checkpoint (CEM) policies reseed from (seed,
// episode seed) in BeginEpisode, so every worker's copy acts identically.
// Throws Error(kUsage) "--policy 'x': ..." when `policy` is neither random,
// scripted nor an existing file; Error(kBadData) for a corrupt checkpoint or
// one written for other specs (message starts with the path).
std::unique_ptr<Policy> MakePolicy(const std::string& policy, const EnvSpec& spec, uint64_t seed,
                                   const PolicyOptions& options);

}  // namespace perpetua
