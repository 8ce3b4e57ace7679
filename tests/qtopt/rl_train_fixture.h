// What the end-to-end tests of the real rl-train q binary share: toy shards
// on disk and flags that make a run small and fast.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_writer.h"
#include "qtopt/memory_replay.h"
#include "support/test_support.h"

namespace perpetua::testing {

// Writes `episodes` toy episodes (image size x size, memory_replay.h) into
// `dir` as shards of 3 episodes, episode i seeded seed0 + i; returns the shards.
inline std::vector<std::string> WriteToyShards(const std::string& dir, int episodes, int size = 16,
                                               uint64_t seed0 = 0) {
  WriterOptions options;
  options.config.episodes_per_shard = 3;
  options.config.sync = "none";
  options.tool_name = "rl_train_test";
  std::vector<std::string> shards;
  DatasetWriter writer(dir, options);
  for (int i = 0; i < episodes; ++i) {
    const std::string shard = writer.Add(ToyEpisode(seed0 + static_cast<uint64_t>(i), size));
    if (!shard.empty()) shards.push_back(shard);
  }
  for (const auto& s : writer.Close()) shards.push_back(s);
  return shards;
}

// argv of a small, fast `rl-train q` run with `extra` flags appended.
inline std::vector<std::string> SmallQTrain(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-train"), "q", "--batch-size", "8", "--threads", "1",
                                   "--network.encoder-channels", "8,8", "--network.hidden", "16",
                                   "--cem.samples", "16", "--cem.elites", "4", "--log-every", "2",
                                   "--dataset.memory-budget-mb", "64"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace perpetua::testing
