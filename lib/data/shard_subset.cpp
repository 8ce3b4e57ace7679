#include "data/shard_subset.h"

#include <cstdint>

namespace perpetua {

bool ShardSubset::Keeps(const std::string& path) const {
  if (all()) return true;
  const size_t slash = path.find_last_of('/');
  const size_t begin = slash == std::string::npos ? 0 : slash + 1;
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis
  for (size_t i = begin; i < path.size(); ++i) {
    hash ^= static_cast<unsigned char>(path[i]);
    hash *= 1099511628211ull;  // FNV prime
  }
  return static_cast<int>(hash % static_cast<uint64_t>(count)) == index;
}

std::string ShardSubset::Describe() const {
  if (all()) return "all shards";
  return "shards with name hash % " + std::to_string(count) + " == " + std::to_string(index);
}

}  // namespace perpetua
