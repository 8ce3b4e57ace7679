// The uniform random policy: every action component drawn uniformly within
// the spec's bounds. Reproducible: BeginEpisode(episode_seed) reseeds the
// generator from (seed, episode_seed), so the same seeds give the same actions
// whatever ran before. Reads neither the observation nor the info.
#pragma once

#include <cstdint>
#include <memory>

#include "env/env.h"
#include "policy/policy.h"

namespace perpetua {

// A random policy for cells with action spec `spec.action`. id() is "random".
// Act() before any BeginEpisode draws from the stream seeded by `seed` alone.
std::unique_ptr<Policy> MakeRandomPolicy(const EnvSpec& spec, uint64_t seed);

}  // namespace perpetua
