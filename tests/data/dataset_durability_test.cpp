// Real writer processes (tests/data/writer_child.cpp): SIGKILL at random
// moments, and several writers on one directory at once.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "common/rng.h"
#include "data/dataset_reader.h"
#include "data/dataset_recovery.h"
#include "data/dataset_writer.h"
#include "data/episode_factory.h"
#include "support/kill_trials.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::ChildProcess;
using testing::TempDir;

struct ChildOutput {
  std::vector<uint64_t> added;      // seeds whose Add() returned
  std::vector<std::string> shards;  // shard paths printed
};

ChildOutput ParseChild(const std::string& out) {
  ChildOutput parsed;
  std::istringstream in(out);
  std::string word, value;
  while (in >> word >> value) {
    if (word == "added") parsed.added.push_back(std::stoull(value));
    if (word == "shard") parsed.shards.push_back(value);
  }
  return parsed;
}

// Reads every episode of `dir` completely; returns seed -> count. Every
// episode must equal the synthetic episode of its seed (no torn data).
std::map<uint64_t, int> ReadAllSeeds(const std::string& dir) {
  std::map<uint64_t, int> seeds;
  DatasetReader reader({dir}, /*allow_empty=*/true);
  testing::EpisodeShape shape;
  shape.height = 16;
  shape.width = 16;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode episode = reader.ReadEpisode(i);
    const Episode expected = testing::MakeEpisode(episode.metadata.seed, shape);
    CHECK(episode.rewards == expected.rewards);
    CHECK(episode.observations.at("image").u8 == expected.observations.at("image").u8);
    ++seeds[episode.metadata.seed];
  }
  return seeds;
}

// True if no writer left a staging folder behind (except one whose writer
// died in the instant between creating it and locking it: empty, removed
// by recovery a minute later).
bool StagingEmpty(const std::string& dir) {
  const std::string staging = dir + "/.staging";
  if (!IsDirectory(staging)) return true;
  for (const auto& entry : std::filesystem::directory_iterator(staging)) {
    const std::string name = entry.path().filename().string();
    const bool unborn = name.size() > 4 && name.compare(name.size() - 4, 4, ".new") == 0;
    if (!unborn || IsRegularFile(entry.path().string() + "/lock")) return false;
    if (!testing::ListFiles(entry.path().string(), ".h5").empty()) return false;
  }
  return true;
}

std::vector<std::string> ChildArgs(const std::string& dir, uint64_t first, int episodes,
                                   int per_shard) {
  return {testing::ToolPath("data_writer_child"), dir, std::to_string(first),
          std::to_string(episodes), std::to_string(per_shard)};
}

TEST_CASE("a writer killed with SIGKILL at random moments loses no finished episode") {
  constexpr int kTrials = 50;
  Rng rng(20261125);
  int killed_mid_run = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    CAPTURE(trial);
    TempDir dir;
    const uint64_t first = 1000;
    ChildOutput out;
    {
      ChildProcess child(ChildArgs(dir.path(), first, 400, 3));
      ::usleep(static_cast<useconds_t>(rng.UniformInt(60000)));
      child.Signal(SIGKILL);
      const auto result = child.Wait();
      if (result.signal == SIGKILL) ++killed_mid_run;
      out = ParseChild(result.out);
    }
    // The dataset opens and every visible episode is complete, before recovery...
    const std::map<uint64_t, int> before = ReadAllSeeds(dir.path());
    for (const auto& [seed, count] : before) CHECK(count == 1);
    // ...and after it, every episode whose Add() returned is there exactly once.
    RecoverDataset(dir.path());
    const std::map<uint64_t, int> after = ReadAllSeeds(dir.path());
    for (uint64_t seed : out.added) {
      CAPTURE(seed);
      CHECK(after.count(seed) == 1);
    }
    const uint64_t in_progress = first + out.added.size();
    for (const auto& [seed, count] : after) {
      CAPTURE(seed);
      CHECK(count == 1);
      // Only finished episodes, plus possibly the one being added when killed.
      CHECK(seed <= in_progress);
    }
    for (const std::string& shard : out.shards) CHECK(IsRegularFile(shard));
    // Nothing of the dead writer is left to recover.
    CHECK(StagingEmpty(dir.path()));
    CHECK(RecoverDataset(dir.path()).episodes_recovered == 0);
  }
  // The delays are short enough that most children die mid-run (not after finishing).
  CHECK(killed_mid_run > kTrials / 2);
}

TEST_CASE("a new writer recovers the episodes of a killed one") {
  TempDir dir;
  ChildOutput out;
  {
    ChildProcess child(ChildArgs(dir.path(), 1, 1000, 1000));  // never fills a shard
    while (ParseChild(child.OutSoFar()).added.size() < 5) ::usleep(1000);
    child.Signal(SIGKILL);
    out = ParseChild(child.Wait().out);
  }
  CHECK(ListShards(dir.path()).empty());  // nothing visible yet: all staged
  DatasetWriter writer(dir.path(), WriterOptions{});
  REQUIRE(writer.recovered_shards().size() == 1);
  writer.Close();
  const auto seeds = ReadAllSeeds(dir.path());
  CHECK(seeds.size() >= out.added.size());
  for (uint64_t seed : out.added) CHECK(seeds.count(seed) == 1);
}

TEST_CASE("rl-data recover merges a killed writer's episodes and prints the shard") {
  TempDir dir;
  ChildOutput out;
  {
    ChildProcess child(ChildArgs(dir.path(), 1, 1000, 1000));
    while (ParseChild(child.OutSoFar()).added.size() < 3) ::usleep(1000);
    child.Signal(SIGKILL);
    out = ParseChild(child.Wait().out);
  }
  const auto before = testing::RunProcess({testing::ToolPath("rl-data"), "inspect", dir.path()});
  CHECK(before.exit_code == 3);  // no shard yet...
  CHECK(before.err.find("staged episodes not in a shard yet") != std::string::npos);  // ...but says why
  const auto result = testing::RunProcess({testing::ToolPath("rl-data"), "recover", dir.path()});
  CHECK(result.exit_code == 0);
  const std::vector<std::string> shards = ListShards(dir.path());
  REQUIRE(shards.size() == 1);
  CHECK(result.out == shards[0] + "\n");
  const auto after = testing::RunProcess({testing::ToolPath("rl-data"), "inspect", dir.path()});
  CHECK(after.exit_code == 0);
  CHECK(nlohmann::json::parse(after.out)["episodes"].get<size_t>() >= out.added.size());
}

TEST_CASE("four concurrent writer processes lose and duplicate nothing") {
  TempDir dir;
  constexpr int kWriters = 4, kEpisodes = 15, kPerShard = 4;
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int w = 0; w < kWriters; ++w) {
    children.push_back(std::make_unique<ChildProcess>(
        ChildArgs(dir.path(), 1000 * (w + 1), kEpisodes, kPerShard)));
  }
  std::set<std::string> printed;
  for (auto& child : children) {
    const auto result = child->Wait();
    CHECK(result.exit_code == 0);
    CHECK(result.err == "");
    for (const auto& shard : ParseChild(result.out).shards) printed.insert(shard);
  }
  const std::vector<std::string> shards = ListShards(dir.path());
  CHECK(std::set<std::string>(shards.begin(), shards.end()) == printed);
  CHECK(shards.size() == kWriters * 4);  // 3 full shards and 1 partial each
  const auto seeds = ReadAllSeeds(dir.path());
  CHECK(seeds.size() == kWriters * kEpisodes);
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kEpisodes; ++i) {
      const uint64_t seed = 1000 * (w + 1) + i;
      CAPTURE(seed);
      CHECK(seeds.count(seed) == 1);
      CHECK(seeds.at(seed) == 1);
    }
  }
  CHECK(StagingEmpty(dir.path()));
}

TEST_CASE("writers killed among live ones are recovered once by racing recoverers") {
  TempDir dir;
  Rng rng(77);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    // Two writers run to completion, two are killed at random moments.
    std::vector<std::unique_ptr<ChildProcess>> live, doomed;
    for (int w = 0; w < 2; ++w) {
      live.push_back(std::make_unique<ChildProcess>(ChildArgs(dir.path(), 100000 * (round + 1) + 1000 * w, 12, 5)));
      doomed.push_back(std::make_unique<ChildProcess>(ChildArgs(dir.path(), 100000 * (round + 1) + 1000 * (w + 2), 400, 7)));
    }
    std::set<uint64_t> added;
    for (auto& child : doomed) {
      ::usleep(static_cast<useconds_t>(10000 + rng.UniformInt(40000)));
      child->Signal(SIGKILL);
      for (uint64_t seed : ParseChild(child->Wait().out).added) added.insert(seed);
    }
    // Two recoverers race each other and the live writers.
    ChildProcess first({testing::ToolPath("rl-data"), "recover", dir.path()});
    ChildProcess second({testing::ToolPath("rl-data"), "recover", dir.path()});
    CHECK(first.Wait().exit_code == 0);
    CHECK(second.Wait().exit_code == 0);
    for (auto& child : live) {
      const auto result = child->Wait();
      CHECK(result.exit_code == 0);
      for (uint64_t seed : ParseChild(result.out).added) added.insert(seed);
    }
    const auto seeds = ReadAllSeeds(dir.path());
    for (const auto& [seed, count] : seeds) {
      CAPTURE(seed);
      CHECK(count == 1);
    }
    for (uint64_t seed : added) {
      CAPTURE(seed);
      CHECK(seeds.count(seed) == 1);
    }
    CHECK(StagingEmpty(dir.path()));
  }
}

TEST_CASE("rl-collect killed with SIGKILL then rl-data recover loses no finished episode") {
  // A short run of bench/collect_kill_bench.cpp (which runs 1,000 trials).
  for (const int workers : {1, 2}) {
    CAPTURE(workers);
    TempDir scratch;
    const testing::CollectKillStats stats =
        testing::RunCollectKillTrials(/*trials=*/6, workers, /*seed=*/30 + workers, scratch.path());
    for (const auto& line : stats.failures) MESSAGE(line);
    CHECK(stats.trials == 6);
    CHECK(stats.episodes_checked > 0);
    CHECK(stats.missing == 0);
    CHECK(stats.unreadable == 0);
    CHECK(stats.recover_failures == 0);
  }
}

}  // namespace
}  // namespace perpetua
