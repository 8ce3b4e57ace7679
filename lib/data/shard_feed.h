// ShardFeed: the online stream. Reads shard paths, one per line, from a file
// descriptor (typically `rl-collect ... | rl-train ...`: the collector prints
// each finished shard's path on stdout) on a background thread and hands each
// to a sink (e.g. the training run's online buffer) as it arrives. The one
// reader of that stream: rl-train's `--online -` (replay/online_source.h).
//
// A line whose shard the sink refuses (Error: unreadable, or not matching the data's schema)
// is not fatal for a trainer that runs for days: it is logged as a warning
// naming the path and the reason, counted in rejected(), and skipped. No
// exception ever escapes the reader thread (any std::exception while adding
// a shard rejects that shard).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perpetua {

// Takes one finished shard. Returns true if it added data (false: already
// known or empty); throws Error to refuse it (the message names the path).
using ShardSink = std::function<bool(const std::string& path)>;

class ShardFeed {
 public:
  // Starts reading `fd` (not owned; e.g. STDIN_FILENO). `sink` is called on
  // the feed's thread and must outlive the feed.
  ShardFeed(ShardSink sink, int fd);
  // Stops the thread (within ~0.1 s) and joins it.
  ~ShardFeed();
  ShardFeed(const ShardFeed&) = delete;
  ShardFeed& operator=(const ShardFeed&) = delete;

  // Shards added so far.
  int64_t added() const { return added_; }
  // True once the input reached end-of-file (the collector exited).
  bool finished() const { return finished_; }
  // "<path>: <reason>" for every skipped line.
  std::vector<std::string> rejected() const;

 private:
  void Run();
  void HandleLine(const std::string& line);

  ShardSink sink_;
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<int64_t> added_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> rejected_;
  std::thread thread_;
};

}  // namespace perpetua
