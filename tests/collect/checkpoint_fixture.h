// Test fixture: a genuine QT-Opt checkpoint with freshly initialised (untrained)
// weights, written with the same container and network code rl-train uses,
// for any cell's spec. Lets rl-collect/rl-eval tests exercise checkpoint
// policies (CEM over a real Q-network) without a training run. Torch-free
// header; the implementation is checkpoint_fixture.inc.
#pragma once

#include <cstdint>
#include <string>

#include "env/env.h"

namespace perpetua::testing {

// Writes a checkpoint for cells with spec `spec` at `path` (atomically) with
// metadata id `id`; weights drawn from `seed`. A small network keeps CEM cheap.
void WriteTestCheckpoint(const std::string& path, const EnvSpec& spec, const std::string& id,
                         uint64_t seed = 1);
// The same with a fresh SAC agent (a small network, the discrete terminate
// on cells that have one), for what QT-Opt does not take: several images.
void WriteTestSacCheckpoint(const std::string& path, const EnvSpec& spec, const std::string& id,
                            uint64_t seed = 1);

}  // namespace perpetua::testing
