// Inspection and validation of datasets (rl-data inspect).
//
// InspectDatasets() opens every given directory and file as DatasetReader
// would, but keeps going after a problem so that the report covers
// everything; with `deep` it also reads every array of every episode, which
// verifies the fletcher32 checksums and decompresses every chunk (flipped
// bytes, truncation). A dataset is valid when no problem was found.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace perpetua {

struct FileReport {
  std::string path;
  std::string format;            // "perpetua", "robomimic", "d4rl", "minari" ("" if unreadable)
  int64_t schema_version = 0;
  int64_t episodes = 0;
  int64_t transitions = 0;
  int64_t successes = 0;         // episodes whose metadata says success
  std::vector<uint64_t> seeds;   // each episode's reset seed (episodes with metadata only)
  std::string schema;            // Schema::Describe()
  std::string provenance_json;
  std::string tool_config_yaml;
  std::string env_args_json;
  std::string problem;           // first problem found in this file ("" if none)
};

struct DatasetReport {
  std::vector<FileReport> files;
  int64_t episodes = 0;
  int64_t transitions = 0;
  int64_t successes = 0;
  int64_t staged_episodes = 0;   // staged by dead writers, awaiting `rl-data recover`
  int64_t quarantined_files = 0; // damaged files recovery moved to DIR/.quarantine
  // Episodes whose reset seed an earlier episode already had: the same
  // episode again (a collect command run twice with the same --seed and
  // --first-episode). A warning, not a problem: the data stays valid.
  int64_t repeated_seeds = 0;
  std::string schema;            // of the first readable file, in words
  nlohmann::json keys = nlohmann::json::object();  // {"observations": {key: {dtype, shape}}, "action_dim"}
  std::vector<std::string> problems;  // one line each, naming the file

  bool valid() const { return problems.empty(); }
  // Machine-readable summary (stdout of rl-data inspect).
  nlohmann::json ToJson() const;
  // Human table (stderr of rl-data inspect).
  std::string ToTable() const;
};

// Inspects `paths` (directories of shards, or files). Never throws for bad
// data: every problem lands in the report.
DatasetReport InspectDatasets(const std::vector<std::string>& paths, bool deep);

}  // namespace perpetua
