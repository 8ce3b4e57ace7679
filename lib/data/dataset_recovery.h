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
// deleted, never merged twice, but only once that shard verifies.
//
// Recovery never publishes what it cannot read and never blocks a dataset:
// every staged episode is verified in full first (VerifyPerpetuaFile: every
// chunk's checksum, every array, the episode's own consistency), and whatever
// fails (an unreadable staged file, a file of another schema than the first
// good one, an existing shard that does not verify, an entry that is not a
// regular file) is quarantined: moved, never deleted, to
// DIR/.quarantine/<name> with the reason beside it in DIR/.quarantine/<name>.why,
// and logged. Readers never look into DIR/.quarantine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/episode_io.h"

namespace perpetua {

// Path of shard `seq` of writer `token` in `dir`.
std::string ShardPath(const std::string& dir, const std::string& token, int64_t seq);
// Name of staged episode `k` of shard `seq` ("s000003-e000012.h5").
std::string StagedEpisodeName(int64_t seq, int64_t k);

// Merges staged episode files (each a complete one-episode shard, in order)
// into the shard `shard_path`: written as `tmp_path`, closed, fsynced (if
// `fsync`), renamed into place (and the directory fsynced if `fsync`); then
// the staged files are deleted. Episodes
// are copied chunk by chunk (H5Ocopy: no recompression, and no checksum
// check: callers pass files they wrote or verified). With `verify_as`, the
// written shard is read back in full (VerifyPerpetuaFile with that schema)
// before the rename. Returns the number of transitions in the shard.
// Error(kIoError) on write failure or a shard that does not read back,
// Error(kBadData) if a staged file cannot be read.
int64_t MergeStagedEpisodes(const std::vector<std::string>& staged_files,
                            const std::string& shard_path, const std::string& tmp_path, bool fsync,
                            const Schema* verify_as = nullptr);

// Name of the quarantine folder inside a dataset directory.
inline constexpr const char* kQuarantineDirName = ".quarantine";

// Moves `path` (a file of any kind; symlinks are moved, not followed) to
// DIR/.quarantine/<name> (with "-1", "-2", ... before the extension if taken),
// writes `reason` to <that path>.why, fsyncs both directories and logs a
// warning. Returns the new path. Error(kIoError) if it cannot be moved.
std::string Quarantine(const std::string& dir, const std::string& path, const std::string& name,
                       const std::string& reason);

// What RecoverDataset did.
struct RecoveryReport {
  std::vector<std::string> shards_written;   // new shard paths
  int64_t episodes_recovered = 0;            // episodes merged into them
  int64_t duplicates_removed = 0;            // staged files already in a shard
  int64_t live_writers = 0;                  // staging folders skipped (lock held)
  std::vector<std::string> quarantined;      // "<new path>: <reason>", one per file moved aside
};

// Recovers every dead writer's staging folder in `dir` (see file comment);
// folders of live writers are left alone. Safe to run concurrently with
// writers and with other recoveries. Error(kIoError) if `dir` cannot be read
// or written; never Error(kBadData): damaged files are quarantined (see the
// file comment) and listed in `quarantined`.
RecoveryReport RecoverDataset(const std::string& dir);

// Verifies every shard of `dir` in full (VerifyPerpetuaFile, each on its own)
// and quarantines those that fail. Returns "<new path>: <reason>" for each.
// Error(kIoError) as Quarantine, Error(kBadData) if `dir` cannot be listed.
std::vector<std::string> QuarantineInvalidShards(const std::string& dir);

}  // namespace perpetua
