// What a checkpoint holds, for a person and for scripts: `rl-train inspect
// CKPT`. Every learner's checkpoint (nn/checkpoint.h) describes itself in its
// metadata; this reads and verifies the whole file, then lays out what a user
// asks first: the algorithm, step and seed, when it was written, the reward
// it learnt from, the observations and actions it expects, the data it came
// from, and the blobs it carries. The run's effective config travels in the
// metadata ("config_yaml"); ConfigYaml returns it for `--yaml`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace perpetua {

struct CheckpointReport {
  std::string path;
  int64_t bytes = 0;                                  // file size
  nlohmann::json metadata;                            // the checkpoint's own metadata, whole
  std::vector<std::pair<std::string, int64_t>> blobs;  // name, bytes (in file order: sorted by name)

  // {"path", "bytes", "verified": true, "algorithm", "step", "seed", "id", "created_unix", "reward",
  //  "observations": [{"key", "dtype", "shape"}], "action": {"names", "low", "high"}, "max_episode_steps",
  //  "data": [dirs], "online": dir or "-" or "", "blobs": [{"name", "bytes"}], "metadata": {all but
  //  config_yaml}}. Fields the checkpoint lacks are null.
  nlohmann::json ToJson() const;
  // The same as aligned lines for a terminal.
  std::string ToTable() const;
  // The run's effective config as YAML ("" when the checkpoint has none).
  std::string ConfigYaml() const;
};

// Reads and verifies `path` (ReadCheckpoint): Error(kBadData) "<path>: ..."
// for a missing, truncated, altered or foreign file.
CheckpointReport InspectCheckpoint(const std::string& path);

}  // namespace perpetua
