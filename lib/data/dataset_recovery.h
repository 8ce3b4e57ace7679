// Staged episodes to shards: the step DatasetWriter takes when a shard is
// full, and the recovery of episodes left by writers that died.
//
// See shard_format.h for the directory layout. A staging folder
// DIR/.staging/<token>/ belongs to a live writer while its "lock" file is
// flock-ed; once the lock can be taken, the writer is dead and whoever takes
// it (a new DatasetWriter on DIR, or `rl-data recover DIR`) merges its staged
// episodes into shards named exactly as the dead writer would have named them
// ("shard-<token>-<seq>.h5"). Staged files of a shard that already exists are
// leftovers of a crash between the shard's rename and their removal: they are
// deleted, never merged twice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perpetua {

// Path of shard `seq` of writer `token` in `dir`.
std::string ShardPath(const std::string& dir, const std::string& token, int64_t seq);
// Name of staged episode `k` of shard `seq` ("s000003-e000012.h5").
std::string StagedEpisodeName(int64_t seq, int64_t k);

// Merges staged episode files (each a complete one-episode shard, in order)
// into the shard `shard_path`: written as `tmp_path`, closed, fsynced (if
// `fsync`), renamed into place (and the directory fsynced if `fsync`); then
// the staged files are deleted. Episodes
// are copied chunk by chunk (H5Ocopy: no recompression). Returns the number
// of transitions in the shard. Error(kIoError) on write failure,
// Error(kBadData) if a staged file cannot be read.
int64_t MergeStagedEpisodes(const std::vector<std::string>& staged_files,
                            const std::string& shard_path, const std::string& tmp_path, bool fsync);

// What RecoverDataset did.
struct RecoveryReport {
  std::vector<std::string> shards_written;   // new shard paths
  int64_t episodes_recovered = 0;            // episodes merged into them
  int64_t duplicates_removed = 0;            // staged files already in a shard
  int64_t live_writers = 0;                  // staging folders skipped (lock held)
  std::vector<std::string> problems;         // staged files that could not be read (kept)
};

// Recovers every dead writer's staging folder in `dir` (see file comment);
// folders of live writers are left alone. Safe to run concurrently with
// writers and with other recoveries. Error(kIoError) if `dir` cannot be read
// or written; unreadable staged files are reported in `problems` and left in place.
RecoveryReport RecoverDataset(const std::string& dir);

}  // namespace perpetua
