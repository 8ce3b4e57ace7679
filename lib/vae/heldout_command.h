// rl-goals heldout: held-out goal images of a simulated cell, spread over its
// goal range (env_factory/heldout_goal_set.h), into a goal file
// (data/goal_file.h) whose meta "goals" tells rl-collect and rl-eval --goals
// FILE how to make each goal the cell's own task: the episode's success is
// then reaching the goal on the true state with the cell's threshold, and
// rl-eval reports success per goal region with Wilson intervals. rl-eval
// --goals heldout:N meets the same goals without the file. Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/error.h"
#include "env/env_config.h"

namespace perpetua {

struct HeldoutGoalsConfig {
  EnvConfig env;
  CellFlags cell;
  std::string out;
  int64_t count = 40;
  uint64_t seed = 0;
  void Visit(ConfigVisitor& v) {
    VisitEnvFlags(v, env, cell);
    v.Field("out", out, "the goal file to write (HDF5, atomically replaced)", FieldKind::kRequired);
    v.Field("count", count, "goals, spread evenly over the cell's goal range");
    v.Field("seed", seed, "seed of the resets the goals are rendered from");
  }
  // Error(kUsage) naming the flag; with `inputs` false (--print-config) a missing --out is not an error.
  void Validate(bool inputs = true) const;
};

// Renders the goals and writes the file; prints its path on stdout.
// Error(kUsage) for a cell without held-out goals or a picture of a state
// (door and push have both), kIoError when the file cannot be written.
ExitCode RunHeldoutGoals(const HeldoutGoalsConfig& config);

}  // namespace perpetua
