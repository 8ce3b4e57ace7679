// DatasetReader: the episodes of one or more datasets, whatever wrote them.
//
// Opens directories (every complete "shard-*.h5" inside; staging folders and
// temporary files are never read) and single HDF5 files in any of these
// layouts, detected from the file's content:
//   perpetua   our shards (shard_format.h); the schema version is checked
//   robomimic  data/demo_<i> with obs/<key>, actions, rewards, dones
//              (terminated = dones; without next_obs the last step is dropped,
//              since the observation after it is unknown)
//   d4rl       root datasets observations, actions, rewards, terminals,
//              timeouts, optional next_observations; split into episodes at
//              terminals|timeouts (without next_observations the last step of
//              each episode is dropped, as d4rl.qlearning_dataset does);
//              the observation key is "observation"
//   minari     groups episode_<id> with observations (N+1 rows; a dataset ->
//              key "observation", or a group of datasets -> their keys),
//              actions, rewards, terminations, truncations
// Every episode of a reader shares one Schema (observation keys, dtypes,
// per-step shapes, action size): the first file fixes it; a file that
// differs is refused with Error(kBadData) naming the file and the difference.
//
// Opening reads only headers (and, for D4RL, the episode boundaries); array
// data is read on demand. Failures are Error(kBadData) with one line naming
// the file (not HDF5, truncated, missing group, wrong shape/dtype, checksum
// mismatch, a directory that cannot be listed).
//
// Thread-safety: none; one thread at a time (DatasetSampler adds locking).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset_formats.h"
#include "data/episode.h"
#include "data/episode_io.h"
#include "data/hdf5_io.h"
#include "data/shard_subset.h"

namespace perpetua {

// Why `path` can be neither listed nor read: "no such file or directory",
// "cannot access: Permission denied", ...
std::string AccessProblem(const std::string& path);

// Lists the complete shards of dataset directory `dir` ("shard-*.h5", sorted).
// Error(kBadData) if it cannot be listed (missing, no permission).
std::vector<std::string> ListShards(const std::string& dir);

// The environment spec JSON a Perpetua shard declares (data.attrs
// "perpetua_env_spec", env/env_spec_json.h's form or a part of it), or
// nullopt when the file has none (other layouts, older shards). Throws
// Error(kBadData) "<path>: ..." for an unreadable file.
std::optional<std::string> ReadDeclaredEnvSpec(const std::string& path);

class DatasetReader {
 public:
  // Opens `paths` (directories and files). With allow_empty false, a
  // directory without shards is Error(kBadData) "<dir>: no shards"; with true
  // (a trainer waiting for a collector) it is accepted and Refresh() picks
  // shards up as they appear. Error(kUsage) if `paths` is empty or a path
  // does not exist. With `expected`, every episode must match that schema
  // (a learner's observation/action specs) instead of the first file's. With
  // `filter_key`, only the episodes listed in each file's mask/<filter_key>
  // (see IndexFile). With `subset`, a directory's shards outside it are
  // neither opened nor added by Refresh (files named in `paths` always are).
  explicit DatasetReader(const std::vector<std::string>& paths, bool allow_empty = false,
                         const Schema* expected = nullptr, std::string filter_key = "", ShardSubset subset = {});
  ~DatasetReader();

  // The shared schema (empty until the first episode arrives).
  const Schema& schema() const { return schema_; }
  bool has_schema() const { return has_schema_; }
  size_t num_episodes() const;
  int64_t num_transitions() const { return num_transitions_; }
  // Where episode `i` lives. Episodes are held compactly (~100 bytes each,
  // the paths shared per file), so this builds the ref: keep it, not a reference.
  EpisodeRef episode(size_t i) const;
  const std::vector<DatasetFileInfo>& files() const { return files_; }

  // Reads episode `i` completely (see episode_io.h).
  Episode ReadEpisode(size_t i);

  // Adds one file (e.g. a shard path printed by rl-collect). Returns the
  // number of episodes added (0 if the file is already in, under any spelling
  // of its path: relative, absolute, through a symlink).
  size_t AddFile(const std::string& path);
  // Re-lists the directories given to the constructor and adds shards not
  // seen yet. Returns their paths.
  std::vector<std::string> Refresh();
  // Forgets episodes [first, end) and the files that hold them (used to undo
  // an AddFile whose data turned out unreadable). `first` must start a file.
  void DropEpisodesFrom(size_t first);

  // An open handle on `path` (kept in a small LRU of open files).
  hid_t FileHandle(const std::string& path);

 private:
  std::string filter_key_;
  ShardSubset subset_;
  std::vector<std::string> directories_;
  std::vector<DatasetFileInfo> files_;
  std::map<std::string, size_t> file_index_;  // canonical path -> index in files_
  struct Layout;      // paths relative to an episode's group, shared by a file's episodes
  struct CompactRef;  // one episode: a Layout, its group prefix and its rows
  std::vector<CompactRef> episodes_;
  Schema schema_;
  std::string schema_source_;  // the file that fixed schema_
  bool has_schema_ = false;
  int64_t num_transitions_ = 0;
  // LRU of open files: most recent first.
  std::list<std::pair<std::string, h5::Handle>> open_files_;
  std::map<std::string, std::list<std::pair<std::string, h5::Handle>>::iterator> open_index_;
};

}  // namespace perpetua
