// DatasetWriter: appends finished episodes to a dataset directory as HDF5
// shards, durably, alongside any number of other writers.
//
// On-disk format: see lib/data/shard_format.h (and docs/data.md).
//
// Guarantees
//  * Durability. Add() returns only once the episode is in a complete file of
//    its own (with sync "episode", the default, also fsynced): a writer killed
//    at any instant (SIGKILL; power loss too with sync "episode") loses at
//    most the episode being passed to Add() at that moment.
//    Episodes staged but not yet merged into a shard are recovered into a
//    shard by the next DatasetWriter opened on the directory, or by
//    `rl-data recover DIR` (RecoverDataset in dataset_recovery.h).
//  * Visibility. Readers only ever see complete shards: a shard is written
//    under a temporary name inside the writer's staging folder, fsynced and
//    renamed into DIR as "shard-<token>-<seq>.h5" in one step.
//  * Concurrency. Any number of writers (threads, processes, machines on a
//    shared file system) may write into one directory at once: every name
//    contains UniqueToken() (host, pid, time, random), so nothing collides,
//    and staged episodes are never merged twice.
//
// Thread-safety: one DatasetWriter is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "data/episode.h"

namespace perpetua {

// Settings a tool exposes (rl-collect binds them as the "dataset" group).
struct DatasetWriterConfig {
  int episodes_per_shard = 100;  // episodes merged into one shard file
  int compression_level = 1;     // deflate (gzip) level 0..9 for image observations
  bool store_next_obs = false;   // also write robomimic's next_obs/<key> (N) (doubles image storage)
  double valid_fraction = 0.1;   // share of episodes listed in mask/valid (chosen from the seed)
  // When data is forced to the disk (fsync):
  //   "episode"  every episode before Add() returns: a power loss loses at
  //              most the episode in progress (costs ~2 fsyncs per episode)
  //   "shard"    every shard: a SIGKILL still loses at most the episode in
  //              progress, a power loss at most the current shard's episodes
  //   "none"     never (the OS writes back when it likes; SIGKILL-safe only)
  std::string sync = "episode";
  bool recover_orphans = true;   // on open, merge episodes staged by dead writers into shards

  void Visit(ConfigVisitor& v) {
    v.Field("episodes_per_shard", episodes_per_shard, "episodes merged into one shard file");
    v.Field("compression_level", compression_level, "deflate level 0..9 for image observations");
    v.Field("store_next_obs", store_next_obs,
            "also store robomimic next_obs/<key> (doubles image storage)");
    v.Field("valid_fraction", valid_fraction, "share of episodes in mask/valid (by seed)");
    v.Field("sync", sync,
            "fsync every 'episode' (power-loss safe), every 'shard', or 'none' (SIGKILL-safe only)");
    v.Field("recover_orphans", recover_orphans,
            "merge episodes left by dead writers into shards on open");
  }
};

// Everything the writer records besides the episodes.
struct WriterOptions {
  DatasetWriterConfig config;
  nlohmann::json env_args = nlohmann::json::object();  // stored as data.attrs["env_args"] (JSON)
  nlohmann::json env_spec = nlohmann::json::object();  // observation/action specs (JSON), optional
  std::string tool_config_yaml;  // effective config of the tool that writes (saved in every shard)
  std::string tool_name;         // "rl-collect"; recorded in the provenance
};

class DatasetWriter {
 public:
  // Opens (creating if needed) dataset directory `dir`, creates this writer's
  // staging folder DIR/.staging/<token>/ and holds an flock on its lock file
  // for its lifetime (the liveness signal recovery relies on). If
  // config.recover_orphans, first merges episodes staged by dead writers
  // (their shard paths are in recovered_shards()).
  // Throws Error(kUsage) on invalid options, Error(kIoError) if `dir` cannot
  // be created or written.
  DatasetWriter(const std::string& dir, WriterOptions options);
  // Calls Close() if it was not called; a failure there is logged (the
  // staged episodes stay on disk and are recovered later), never thrown.
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Validates `episode` and stores it durably (see Guarantees). Returns the
  // path of the shard this episode completed, or "" if the shard is not full yet.
  // Throws Error(kBadData) naming the field if the episode is malformed:
  // no steps; rewards/terminated/truncated/actions lengths differ; actions
  // not [N, A] float32 or not finite; an observation not [N+1, ...], of a
  // shape/dtype/key set different from the first episode's; inconsistent
  // buffers. Throws Error(kIoError) on a write failure (nothing half-written
  // becomes visible). Throws Error(kUsage) after Close().
  std::string Add(const Episode& episode);

  // Writes the last partial shard (if any), removes the staging folder and
  // releases the lock. Returns the paths of the shards it wrote (0 or 1).
  // Idempotent: later calls return {}.
  std::vector<std::string> Close();

  // The dataset directory.
  const std::string& dir() const;
  // This writer's unique token (part of every name it creates).
  const std::string& token() const;
  // Shards this writer produced by recovering dead writers' episodes on open.
  const std::vector<std::string>& recovered_shards() const;
  // Episodes added so far / episodes staged but not yet in a shard.
  int64_t episodes_added() const;
  int64_t episodes_staged() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perpetua
