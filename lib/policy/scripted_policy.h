// Scripted privileged policies: one per cell, reading the ground truth in
// `info` (object poses, targets, door angle). They prove each cell solvable
// and bootstrap datasets, as QT-Opt's scripted exploration did.
//
// With noise > 0 the script is perturbed: Gaussian noise of that standard
// deviation on each movement component, in action units (the grasp script
// also aims off by noise x 1 cm per episode), drawn from an Rng seeded at
// BeginEpisode from (seed, episode_seed). Noisy scripts give the varied,
// partly failing data an off-policy learner needs; noise 0 is deterministic.
#pragma once

#include <cstdint>
#include <memory>

#include "env/env.h"
#include "policy/policy.h"

namespace perpetua {

// The scripted policy for the cell `spec.name` (grasp, push, door, pendulum).
// id() is "scripted:<cell>". Throws Error(kUsage) for a cell without a script
// (e.g. a tcp:// robot). Act() throws Error(kBadData) if `info` lacks the
// ground truth the script needs.
std::unique_ptr<Policy> MakeScriptedPolicy(const EnvSpec& spec, double noise = 0.0,
                                           uint64_t seed = 0);

}  // namespace perpetua
