// The file layouts Perpetua reads, reduced to EpisodeRefs (episode_io.h):
// Perpetua shards, robomimic, D4RL and Minari files. See dataset_reader.h for
// what each layout maps to.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/episode_io.h"

namespace perpetua {

// One opened file and what it declares about itself.
struct DatasetFileInfo {
  std::string path;
  std::string format;            // "perpetua", "robomimic", "d4rl", "minari"
  int64_t schema_version = 0;    // perpetua shards only
  std::string provenance_json;   // perpetua: tool, host, writer token, created_unix, ...
  std::string tool_config_yaml;  // perpetua: effective config of the writing tool
  std::string env_args_json;     // robomimic/perpetua data.attrs["env_args"]
  std::string env_spec_json;     // perpetua: data.attrs["perpetua_env_spec"] (obs/action specs)
  size_t first_episode = 0;      // index of its first episode in the reader
  size_t num_episodes = 0;
  int64_t num_transitions = 0;
};

// Indexes one file: its episodes, header and the schema all its episodes
// share (checked while indexing). Error(kBadData) naming the file and the
// object on a missing group or dataset, a wrong shape or dtype, rows that
// disagree, an unsupported schema version or an unrecognised layout.
// With a `filter_key` ("train", "valid"), only the demos listed in
// mask/<filter_key> are indexed (robomimic's filter keys; Error(kBadData) if
// the file has no such mask or is not in robomimic's layout).
std::vector<EpisodeRef> IndexFile(hid_t file, const std::string& path,
                                  const std::string& filter_key, DatasetFileInfo* info,
                                  Schema* schema);

}  // namespace perpetua
