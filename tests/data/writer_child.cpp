// A test-only writer process for the durability and concurrency tests:
//   data_writer_child DIR FIRST_SEED EPISODES EPISODES_PER_SHARD
// writes synthetic episodes seeded FIRST_SEED, FIRST_SEED+1, ... into DIR and
// prints "added <seed>" on stdout (flushed) after each Add() returned, and
// "shard <path>" for every shard; tests kill it with SIGKILL at random moments.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "data/dataset_writer.h"
#include "data/episode_factory.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DIR FIRST_SEED EPISODES EPISODES_PER_SHARD\n", argv[0]);
    return 2;
  }
  try {
    const uint64_t first = std::strtoull(argv[2], nullptr, 10);
    const int episodes = std::atoi(argv[3]);
    perpetua::WriterOptions options;
    options.config.episodes_per_shard = std::atoi(argv[4]);
    options.tool_name = "data_writer_child";
    perpetua::DatasetWriter writer(argv[1], options);
    perpetua::testing::EpisodeShape shape;
    shape.height = 16;
    shape.width = 16;
    for (int i = 0; i < episodes; ++i) {
      const uint64_t seed = first + static_cast<uint64_t>(i);
      const std::string shard = writer.Add(perpetua::testing::MakeEpisode(seed, shape));
      std::printf("added %llu\n", static_cast<unsigned long long>(seed));
      if (!shard.empty()) std::printf("shard %s\n", shard.c_str());
      std::fflush(stdout);
    }
    for (const std::string& shard : writer.Close()) std::printf("shard %s\n", shard.c_str());
    return 0;
  } catch (const perpetua::Error& e) {
    std::fprintf(stderr, "data_writer_child: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
