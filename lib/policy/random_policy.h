// The uniform random policy: every action component drawn uniformly within
// the spec's bounds, except, optionally, a component named "terminate"
// (an action that ends the episode when > 0, e.g. the grasp cell's): with
// `terminate_probability` p >= 0 it is drawn from (0, high] with probability
// p and from [low, 0] otherwise, so that random exploration can move for
// several steps before it ends the episode (uniform: half the steps end it). Reproducible: BeginEpisode(episode_seed) reseeds the
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
// terminate_probability < 0: every component uniform; in [0, 1]: see above
// (ignored when no component is named "terminate"; > 1 is a bug, checked).
std::unique_ptr<Policy> MakeRandomPolicy(const EnvSpec& spec, uint64_t seed,
                                         double terminate_probability = -1.0);

}  // namespace perpetua
