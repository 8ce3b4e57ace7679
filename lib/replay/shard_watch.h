// ShardWatch: the online buffer fed from a dataset directory on a (shared)
// file system: rl-train --online DIR. Collectors anywhere write into DIR;
// the trainer picks up each shard once it is complete.
//
// How: a background thread lists DIR (data's ListShards: only complete
// "shard-*.h5" files; writers stage under DIR/.staging and rename a shard
// into place when it is finished, so a half-written shard is never listed)
// every `poll_seconds`, and hands each shard it has not seen before to the
// sink, in name order. Polling, not inotify: inotify does not see files that
// other machines write on NFS and similar shared file systems, and one
// directory listing per second is cheap.
//
// Never a shard twice: every path listed (added, refused or already `known`)
// is remembered. A shard the sink refuses is logged as a warning, counted in
// rejected() and never retried. A listing that fails (the directory vanished,
// permissions) is logged once and retried at the next poll.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "data/shard_feed.h"

namespace perpetua {

class ShardWatch {
 public:
  // Starts watching `dir` (scans once right away). Paths in `known` (e.g.
  // shards already in the buffers) are never handed to `sink`; `sink` runs on
  // the watch's thread and must outlive the watch.
  ShardWatch(std::string dir, ShardSink sink, std::set<std::string> known, double poll_seconds = 1.0);
  // Stops the thread (within one poll) and joins it.
  ~ShardWatch();
  ShardWatch(const ShardWatch&) = delete;
  ShardWatch& operator=(const ShardWatch&) = delete;

  // Shards the sink accepted so far.
  int64_t added() const { return added_; }
  // Directory scans completed so far (tests wait on it).
  int64_t scans() const { return scans_; }
  // "<path>: <reason>" for every refused shard.
  std::vector<std::string> rejected() const;

 private:
  void Run();
  void Scan();

  std::string dir_;
  ShardSink sink_;
  std::set<std::string> seen_;
  double poll_seconds_;
  std::atomic<int64_t> added_{0}, scans_{0};
  bool listing_failed_ = false;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<std::string> rejected_;
  std::thread thread_;
};

}  // namespace perpetua
