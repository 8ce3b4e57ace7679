// rl-train q end to end: the real binary on real HDF5 shards, including every
// way its input can be wrong, interruption and the output-directory lock.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "corpus/corpus.h"
#include "corpus/mutate.h"
#include "data/dataset_writer.h"
#include "nn/checkpoint.h"
#include "qtopt/memory_replay.h"
#include "qtopt/rl_train_fixture.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::RunProcess;
using testing::ToolPath;

// The last row of OUT/metrics.jsonl.
nlohmann::json LastMetricsRow(const std::string& out) {
  const std::string metrics = testing::ReadFile(out + "/metrics.jsonl");
  return nlohmann::json::parse(metrics.substr(metrics.rfind('\n', metrics.size() - 2) + 1));
}

int64_t StepOf(const std::string& checkpoint) { return ReadCheckpointMetadata(checkpoint)["step"].get<int64_t>(); }

TEST_CASE("rl-train q trains on shards with target workers and resumes") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 6);
  const auto first = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "6",
                                       "--checkpoint-every", "3", "--target-workers.count", "1"}));
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out == tmp / "run/latest.ckpt\n");
  CHECK(StepOf(tmp / "run/latest.ckpt") == 6);
  CHECK(testing::ListFiles(tmp / "run", ".ckpt") ==
        std::vector<std::string>{"ckpt-00000003.ckpt", "ckpt-00000006.ckpt", "latest.ckpt"});
  const nlohmann::json meta = ReadCheckpointMetadata(tmp / "run/latest.ckpt");
  CHECK(meta["algorithm"] == "qtopt");
  CHECK(meta["config_yaml"].get<std::string>().find("steps: 6") != std::string::npos);
  CHECK(meta["input_spec"]["image_key"] == "image");
  CHECK(testing::ReadFile(tmp / "run/config.yaml").find("batch_size: 8") != std::string::npos);

  const auto resumed = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "10",
                                         "--resume", "--target-workers.count", "1"}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("resumed from " + tmp / "run/latest.ckpt" + " at step 6") != std::string::npos);
  CHECK(StepOf(tmp / "run/latest.ckpt") == 10);
  const std::string csv = testing::ReadFile(tmp / "run/metrics.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 3 + 2);  // one header, rows at 2,4,6 then 8,10
}

TEST_CASE("rl-train q refuses an empty data directory and mismatched specs") {
  testing::TempDir tmp;
  EnsureWritableDirectory(tmp / "empty");
  auto r = RunProcess(testing::SmallQTrain({"--data", tmp / "empty", "--out", tmp / "run"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("rl-train: error: " + tmp / "empty" + ": no shards") == 0);

  // A folder of foreign files (one robomimic-layout demo.hdf5) is read when the file is named.
  const std::vector<std::string> toy = testing::WriteToyShards(tmp / "toy", 3, 16);
  REQUIRE(toy.size() == 1);
  EnsureWritableDirectory(tmp / "foreign");
  std::filesystem::copy_file(toy.front(), tmp / "foreign/demo.hdf5");
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "foreign", "--out", tmp / "run"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "foreign" + ": no shards (no complete shard-*.h5 file); it holds 1 other "
                 "HDF5 file(s): give a file by its path, e.g. --data " + tmp / "foreign/demo.hdf5" + "\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "foreign/demo.hdf5", "--out", tmp / "from-file", "--steps", "2"}));
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(std::filesystem::exists(tmp / "from-file/latest.ckpt"));

  testing::WriteToyShards(tmp / "big", 3, 16);
  testing::WriteToyShards(tmp / "small", 3, 8);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "big", tmp / "small", "--out", tmp / "run"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("rl-train: error: ") == 0);
  CHECK(r.err.find("image") != std::string::npos);

  // A checkpoint trained on 16x16 images cannot warm-start training on 8x8 data.
  REQUIRE(RunProcess(testing::SmallQTrain({"--data", tmp / "big", "--out", tmp / "run16", "--steps", "2"})).exit_code == 0);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "small", "--out", tmp / "run8", "--init", tmp / "run16/latest.ckpt"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "run16/latest.ckpt" +
                     ": checkpoint does not match the data: image size 16x16 vs 8x8 (checkpoint vs the data)\n");
}

TEST_CASE("rl-train q refuses corrupt checkpoints for resume and init") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 3);
  REQUIRE(RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "2"})).exit_code == 0);
  const std::string good = testing::ReadFile(tmp / "run/latest.ckpt");
  testing::WriteFile(tmp / "run/latest.ckpt", good.substr(0, good.size() - 100));
  auto r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "4", "--resume"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "run/latest.ckpt" + ": truncated checkpoint (ends inside a blob)\n");
  std::string flipped = good;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 1);
  testing::WriteFile(tmp / "flipped.ckpt", flipped);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run2", "--init", tmp / "flipped.ckpt"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "flipped.ckpt" + ": checkpoint is corrupt (integrity hash mismatch)\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run2", "--init", tmp / "missing.ckpt"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "missing.ckpt" + ": cannot open: No such file or directory\n");
}

TEST_CASE("rl-train q online stream: shards from stdin and stdin closing early") {
  testing::TempDir tmp;
  // Only --online and stdin closes before any shard: nothing to train on.
  auto r = RunProcess(testing::SmallQTrain({"--online", "-", "--out", tmp / "run"}), "");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("rl-train: error: only 0 transition(s) to train on (need --min-transitions 1) and the "
                   "--online stream closed") != std::string::npos);

  testing::WriteToyShards(tmp / "offline", 3, 16, 0);
  const auto online = testing::WriteToyShards(tmp / "fresh", 6, 16, 100);
  REQUIRE(online.size() == 2);
  // With offline data, an early EOF just ends the stream.
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "offline", "--online", "-", "--out", tmp / "a", "--steps", "2"}), "");
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("online stream closed after 0 shard(s)") != std::string::npos);

  // Online-only training waits for the first shard; a bad path is skipped with a warning.
  const std::string lines = tmp / "fresh/nonexistent.h5" + "\n" + online[0] + "\n" + online[1] + "\n";
  r = RunProcess(testing::SmallQTrain({"--online", "-", "--out", tmp / "b", "--steps", "4", "--min-transitions", "18"}), lines);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning: online shard skipped: ") != std::string::npos);
  const CheckpointContents c = ReadCheckpoint(tmp / "b/latest.ckpt");
  CHECK(nlohmann::json::parse(c.blobs.at("trainer.state"))["online_shards"] == nlohmann::json(online));
  const nlohmann::json last = LastMetricsRow(tmp / "b");
  CHECK(last["online_transitions"] == 18);
  CHECK(last["online_share"] == 1.0);
}

TEST_CASE("rl-train q skips a streamed shard that claims 2^31 steps and refuses bad checkpoint fields") {
  testing::TempDir tmp;
  const auto online = testing::WriteToyShards(tmp / "fresh", 3, 16, 100);
  REQUIRE(online.size() == 1);
  corpus::EditHdf5(online[0], [](hid_t f) { corpus::ClaimSteps(f, "data/demo_0", int64_t{1} << 31); });
  auto r = RunProcess(testing::SmallQTrain({"--online", "-", "--out", tmp / "a", "--steps", "2"}), online[0] + "\n");
  CAPTURE(r.err);
  CHECK(r.signal == 0);  // was SIGABRT: bad_alloc escaped the reader thread
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("rl-train: warning: online shard skipped: " + online[0] + ": data/demo_0/actions: has shape "
                   "[2147483648, ") != std::string::npos);

  // Checkpoints that pass the hash but hold deep or wrongly typed fields.
  testing::WriteToyShards(tmp / "data", 3);
  REQUIRE(RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "2"})).exit_code == 0);
  const CheckpointContents good = ReadCheckpoint(tmp / "run/latest.ckpt");
  std::string deep = good.metadata.dump();
  deep.insert(deep.size() - 1, ",\"deep\":" + corpus::DeepJson(100000));
  testing::WriteFile(tmp / "deep.ckpt", corpus::RawCheckpoint(deep, good.blobs));
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "init", "--init", tmp / "deep.ckpt"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "deep.ckpt" + ": checkpoint metadata: JSON nested deeper than 64 levels\n");
  CheckpointContents typed = good;
  typed.blobs["trainer.state"] = R"({"rng": ["a", "b", "c", "d"]})";
  WriteCheckpoint(tmp / "run/latest.ckpt", typed);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "4", "--resume"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "run/latest.ckpt" + ": checkpoint trainer state is malformed\n");
  typed = good;
  typed.metadata["step"] = "two";
  WriteCheckpoint(tmp / "run/latest.ckpt", typed);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "4", "--resume"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "rl-train: error: " + tmp / "run/latest.ckpt" + ": checkpoint field 'step' has the wrong type\n");
}

TEST_CASE("rl-train q --online DIR trains on shards that collectors complete in DIR") {
  testing::TempDir tmp;
  EnsureWritableDirectory(tmp / "fresh");
  // The trainer starts first and waits for 18 transitions (two shards of 3 three-step episodes);
  // shard_watch_test covers shards completing while a watch runs.
  testing::ChildProcess run(testing::SmallQTrain({"--online", tmp / "fresh", "--out", tmp / "run", "--steps", "4",
                                   "--min-transitions", "18"}));
  const auto online = testing::WriteToyShards(tmp / "fresh", 6, 16, 100);
  REQUIRE(online.size() == 2);
  const auto result = run.Wait();
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const CheckpointContents c = ReadCheckpoint(tmp / "run/latest.ckpt");
  CHECK(nlohmann::json::parse(c.blobs.at("trainer.state"))["online_shards"] == nlohmann::json(online));
  const nlohmann::json last = LastMetricsRow(tmp / "run");
  CHECK(last["online_transitions"] == 18);
  CHECK(last["online_shards"] == 2);
  CHECK(last["online_share"] == 1.0);
}

TEST_CASE("rl-train q usage errors name the flag") {
  testing::TempDir tmp;
  auto r = RunProcess(testing::SmallQTrain({"--data", tmp.path()}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --out is required (the output directory)\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp.path(), "--out", tmp / "o", "--online", "yes"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --online takes '-' (shard paths on stdin) or a dataset directory, got 'yes'\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp.path(), "--out", tmp / "o", "--cem.iterations", "0"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --cem.iterations must be >= 1, got 0\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp.path(), "--out", tmp / "o", "--augment.shift", "-1"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --augment.shift must be in [0, 16], got -1\n");
  r = RunProcess(testing::SmallQTrain({"--data", tmp.path(), "--out", tmp / "o", "--cem.elitse", "3"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("did you mean '--cem.elites'") != std::string::npos);
}

TEST_CASE("rl-train q holds a lock on its output and checkpoints on SIGINT") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 3);
  testing::ChildProcess run(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "100000000",
                                   "--checkpoint-every", "100000"}));
  // Wait until it trains (its first metrics row), then try a second run on the same --out.
  for (int i = 0; i < 600 && testing::ReadFile(tmp / "run/metrics.csv").find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto second = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "2"}));
  CHECK(second.exit_code == 8);
  CHECK(second.err == "rl-train: error: " + tmp / "run" + ": another rl-train run is training into this directory\n");
  run.Signal(SIGINT);
  const auto result = run.Wait();
  CHECK(result.exit_code == 130);
  CHECK(StepOf(tmp / "run/latest.ckpt") > 0);
  CHECK(result.out == tmp / "run/latest.ckpt\n");
}

}  // namespace
}  // namespace perpetua
