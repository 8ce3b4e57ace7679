// Where the online buffer's shards come from (rl-train --online):
//   "-"  finished shard paths on stdin, one per line (`rl-collect ... | rl-train ...`;
//        data/shard_feed.h)
//   DIR  new complete shards appearing in dataset directory DIR, written by
//        collectors on any machine sharing the file system (replay/shard_watch.h)
// Each shard goes to the sink once; refused shards are logged and counted.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "data/shard_feed.h"
#include "replay/shard_watch.h"

namespace perpetua {

class OnlineSource {
 public:
  // Throws Error(kUsage) "--online takes '-' (shard paths on stdin) or a
  // dataset directory, got 'X'" unless `online` is "-" or an existing directory.
  static void Validate(const std::string& online);

  // Starts reading (Validate()d) `online`. `known`: shard paths never to
  // hand to `sink` (already in the buffers). `poll_seconds`: DIR's listing period.
  OnlineSource(const std::string& online, ShardSink sink, std::set<std::string> known, double poll_seconds = 1.0);

  // False once stdin reached end of file (no more shards will come); a
  // watched directory stays open.
  bool open() const;
  int64_t added() const;
  int64_t rejected() const;
  // "on stdin" or "in DIR" (for logs).
  std::string where() const;

 private:
  std::string online_;
  std::unique_ptr<ShardFeed> feed_;
  std::unique_ptr<ShardWatch> watch_;
};

}  // namespace perpetua
