// The layer above every learner folder: registers each learner's checkpoint
// policy loader (policy/checkpoint_policy.h). Adding a learner = adding its
// folder, its verb in tools/rl-train and one line in register_learners.cpp.
//
// Tools that turn checkpoints into policies (rl-collect, rl-eval) call
// RegisterLearnerPolicies() at start: explicit, so no registration depends
// on static initialisers that the linker may drop from static libraries.
// Torch-free header.
#pragma once

namespace perpetua {

// Registers the loaders of every learner ("qtopt", ...). Idempotent, thread-safe.
void RegisterLearnerPolicies();

}  // namespace perpetua
