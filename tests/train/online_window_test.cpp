// rl-train's online window end to end (the real binary on real shards): the
// online buffer holds the newest shards only, never one twice, a resumed run
// restores the recorded window (not every shard ever streamed), shards that
// appear in --data join the offline buffer while training, and bad values of
// the new flags are usage errors with one clear line.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/dataset_writer.h"
#include "nn/checkpoint.h"
#include "qtopt/memory_replay.h"
#include "qtopt/rl_train_fixture.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::RunProcess;
using testing::ToolPath;

std::vector<std::string> OnlineShardsOf(const std::string& checkpoint) {
  const CheckpointContents c = ReadCheckpoint(checkpoint);
  return nlohmann::json::parse(c.blobs.at("trainer.state"))["online_shards"].get<std::vector<std::string>>();
}

TEST_CASE("rl-train --online-window: the newest shards, never one twice, restored on resume") {
  testing::TempDir tmp;
  const auto online = testing::WriteToyShards(tmp / "fresh", 12, 16, 100);  // 4 shards of 9 transitions
  REQUIRE(online.size() == 4);
  std::string lines;
  for (const auto& s : online) lines += s + "\n" + s + "\n";  // every path twice
  // Online-only: training waits for 18 transitions (two shards).
  auto r = RunProcess(testing::SmallQTrain({"--online", "-", "--out", tmp / "run", "--steps", "30", "--online-window", "18",
                             "--min-transitions", "18"}),
                      lines);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto window = OnlineShardsOf(tmp / "run/latest.ckpt");
  // At most 18 transitions: two shards, consecutive in arrival order, never the same twice.
  REQUIRE(window.size() >= 1);
  REQUIRE(window.size() <= 2);
  const auto first = std::find(online.begin(), online.end(), window[0]);
  REQUIRE(first != online.end());
  if (window.size() == 2) {
    REQUIRE(first + 1 != online.end());
    CHECK(window[1] == *(first + 1));
  }

  // Resumed with no new shards: the window is the recorded one, not every shard ever streamed.
  r = RunProcess(testing::SmallQTrain({"--online", "-", "--out", tmp / "run", "--steps", "32", "--online-window", "18",
                        "--resume"}),
                 "");
  REQUIRE(r.exit_code == 0);
  CHECK(OnlineShardsOf(tmp / "run/latest.ckpt") == window);
  // Resumed with a smaller window: its newest shard only.
  r = RunProcess(testing::SmallQTrain({"--online", "-", "--out", tmp / "run", "--steps", "34", "--online-window", "9",
                        "--resume"}),
                 "");
  REQUIRE(r.exit_code == 0);
  CHECK(OnlineShardsOf(tmp / "run/latest.ckpt") == std::vector<std::string>{window.back()});
}

TEST_CASE("rl-train picks up shards that appear in --data while it trains") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 3, 16, 0);  // 9 transitions
  testing::ChildProcess run(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "1000000",
                                   "--data-refresh-s", "0.05"}));
  // Wait until it trains, then a collector adds a shard.
  for (int i = 0; i < 600 && run.ErrSoFar().find("training qtopt") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(run.ErrSoFar().find("training qtopt") != std::string::npos);
  testing::WriteToyShards(tmp / "data", 6, 16, 50);  // 2 shards, 18 transitions
  for (int i = 0; i < 600 && run.ErrSoFar().find("27 transitions") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  run.Signal(SIGTERM);
  const auto result = run.Wait();
  INFO(result.err);
  CHECK(result.exit_code == 130);
  CHECK(result.err.find("rl-train: offline buffer: ") != std::string::npos);
  CHECK(result.err.find(" new shard(s) in --data, 27 transitions") != std::string::npos);
}

TEST_CASE("rl-train --online-window and --data-refresh-s refuse bad values with one line") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 3, 16, 0);
  auto r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "o", "--online-window", "-5"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --online-window must be >= 0 (transitions; 0 = unbounded), got -5\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "o", "--online-window", "many"}));
  CHECK(r.exit_code == 2);
  CHECK(testing::Lines(r.err).size() == 1);
  CHECK(r.err.find("--online-window") != std::string::npos);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "o", "--data-refresh-s", "-1"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --data-refresh-s must be a number of seconds >= 0 (0 = never)\n");
}

}  // namespace
}  // namespace perpetua
