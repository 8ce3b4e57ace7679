// One finished episode, as collectors hand it to the dataset writer and
// readers hand it back. Columnar: each observation key is one array with the
// steps stacked on the first axis.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/array.h"

namespace perpetua {

// Per-episode facts stored beside the arrays (HDF5 attributes of data/demo_<i>).
struct EpisodeMetadata {
  bool success = false;                  // ground-truth success (from the cell's info)
  uint64_t seed = 0;                     // the seed passed to Env::Reset
  std::vector<int64_t> object_ids;       // objects present (grasp cell), empty otherwise
  std::string policy_id;                 // Policy::id() that acted ("checkpoint:<id>", ...)
  double start_time_unix = 0.0;          // wall-clock start, seconds since the epoch
  double end_time_unix = 0.0;            // wall-clock end
  bool interrupted = false;              // a person/e-stop interrupted it (kept apart from failures)
  std::string extra_json = "{}";         // any other facts, a JSON object
};

struct Episode {
  // key -> [N+1, ...]: the N observations the actions were chosen from, plus
  // the observation after the last action (needed to bootstrap truncated episodes).
  std::map<std::string, Array> observations;
  Array actions;                     // [N, A] float32
  std::vector<float> rewards;        // (N)
  std::vector<uint8_t> terminated;   // (N) 1 where the task ended the episode
  std::vector<uint8_t> truncated;    // (N) 1 where a time limit / interruption cut it
  EpisodeMetadata metadata;

  int64_t num_steps() const { return static_cast<int64_t>(rewards.size()); }
};

}  // namespace perpetua
