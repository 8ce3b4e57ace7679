// A deterministic share of a dataset's shards, for ranks that each read only
// their part of the data (rl-train --dist.shards disjoint). Torch-free.
//
// Subset `index` of `count` keeps the shards whose file name (not the
// directory: mount points differ between machines) hashes to `index` modulo
// `count` (FNV-1a, 64 bit). Every shard belongs to exactly one subset, the
// same one on every machine and in every run, and a shard that appears later
// falls to its rank without any coordination. With few shards the subsets
// can be uneven (a hash, not a deal).
#pragma once

#include <string>

namespace perpetua {

struct ShardSubset {
  int index = 0;
  int count = 1;  // 1: every shard

  bool all() const { return count <= 1; }
  bool Keeps(const std::string& path) const;
  // "shards with name hash % 4 == 1" (or "all shards").
  std::string Describe() const;
};

}  // namespace perpetua
