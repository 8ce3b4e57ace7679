// rl-train sac --reward vice end to end: the classifier trains beside SAC on
// real push shards, batches carry its rewards while the shards stay
// unchanged, both learners resume together bit-exact, and bad input fails
// with one line.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "nn/checkpoint.h"
#include "sim/png.h"
#include "vice/push_data.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::ToolPath;

std::vector<std::string> Train(const std::vector<std::string>& extra, const std::string& reward = "vice") {
  std::vector<std::string> argv = {ToolPath("rl-train"), "sac", "--batch-size", "16", "--threads", "1",
                                   "--sac.network.hidden", "16,16", "--sac.network.encoder-channels", "8,8",
                                   "--sac.network.encoder-strides", "2,2", "--log-every", "2",
                                   "--reward", reward, "--vice.train-every", "2",
                                   "--vice.classifier.positives", "8", "--vice.classifier.negatives", "8",
                                   "--vice.classifier.network.hidden", "16"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::vector<nlohmann::json> Rows(const std::string& out) {
  std::vector<nlohmann::json> rows;
  for (const std::string& line : testing::Lines(testing::ReadFile(out + "/metrics.jsonl"))) {
    nlohmann::json row = nlohmann::json::parse(line);
    for (const char* run_field : {"steps_per_s", "update_fraction", "wait_fraction", "elapsed_s"}) row.erase(run_field);
    rows.push_back(row);
  }
  return rows;
}

TEST_CASE("rl-train sac --reward vice: classifier metrics, relabelled rewards, shards unchanged, bit-exact resume") {
  testing::TempDir tmp;
  testing::MakeExamples(tmp / "scripted", tmp / "examples", 12);
  testing::CollectPush(tmp / "random", "random", 4, 2, {"--env", "push", "--cell.image-size", "32"});
  const std::string shard = tmp / "random/" + testing::ListFiles(tmp / "random", ".h5").at(0);
  const std::string shard_before = testing::ReadFile(shard);
  const auto whole = RunProcess(Train({"--data", tmp / "random", "--vice.examples", tmp / "examples", "--out",
                                       tmp / "whole", "--steps", "8"}));
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  CHECK(whole.err.find("VICE rewards: classifier on 11 examples (1 held back), a step every 2 updates") !=
        std::string::npos);
  const std::vector<nlohmann::json> rows = Rows(tmp / "whole");
  REQUIRE(rows.size() == 4);
  for (const char* key : {"vice_loss", "vice_accuracy", "vice_holdout_accuracy", "vice_positive_logit",
                          "vice_negative_logit", "vice_reward_online", "critic_loss"}) {
    CHECK_MESSAGE(rows.back().contains(key), key);
  }
  CHECK(rows.back()["vice_loss"].get<double>() > 0);
  // The data on disk keeps the cell's rewards.
  CHECK(testing::ReadFile(shard) == shard_before);
  const CheckpointContents ckpt = ReadCheckpoint(tmp / "whole/latest.ckpt");
  CHECK(ckpt.metadata["algorithm"] == "sac");
  CHECK(ckpt.metadata["reward"] == "vice");
  CHECK(ckpt.metadata["vice"]["steps"] == 4);
  CHECK(ckpt.metadata["vice_examples"]["train"] == 11);
  CHECK(ckpt.blobs.count("vice.net") == 1);
  CHECK(ckpt.blobs.count("sac.actor") == 1);
  CHECK(ckpt.metadata["config_yaml"].get<std::string>().find("reward: vice") != std::string::npos);

  // The run's checkpoint scores images as a classifier checkpoint does.
  const auto scored =
      RunProcess({ToolPath("rl-label"), "score", "--classifier", tmp / "whole/latest.ckpt", tmp / "examples"});
  INFO(scored.err);
  CHECK(scored.exit_code == 0);
  CHECK(testing::Lines(scored.out).size() == 12);
  // ... and rl-eval runs its policy.
  const auto evaluated = RunProcess({ToolPath("rl-eval"), "--policy", tmp / "whole/latest.ckpt", "--env", "push",
                                     "--cell.image-size", "32", "--cell.max-episode-steps", "5", "--episodes", "2",
                                     "--json", tmp / "eval.json"});
  INFO(evaluated.err);
  CHECK(evaluated.exit_code == 0);

  // Killed after 4 steps and resumed: the same run, classifier included.
  REQUIRE(RunProcess(Train({"--data", tmp / "random", "--vice.examples", tmp / "examples", "--out", tmp / "split",
                            "--steps", "4"}))
              .exit_code == 0);
  const auto resumed = RunProcess(Train({"--data", tmp / "random", "--vice.examples", tmp / "examples", "--out",
                                         tmp / "split", "--steps", "8", "--resume"}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(Rows(tmp / "split") == rows);
  const CheckpointContents split = ReadCheckpoint(tmp / "split/latest.ckpt");
  // (Not "vice.adam": torch's Adam names its state by tensor addresses, which
  // differ between processes; the equal losses after the resume show its state came back.)
  for (const std::string blob : {"vice.net", "sac.actor", "sac.critic", "sac.critic_adam"}) {
    CAPTURE(blob);
    CHECK(split.blobs.at(blob) == ckpt.blobs.at(blob));
  }
  // Resuming a run trained without VICE as a VICE run is refused.
  REQUIRE(RunProcess(Train({"--data", tmp / "random", "--out", tmp / "plain", "--steps", "2"}, "env")).exit_code == 0);
  const auto mixed = RunProcess(Train({"--data", tmp / "random", "--vice.examples", tmp / "examples", "--out",
                                       tmp / "plain", "--steps", "4", "--resume"}));
  CHECK(mixed.exit_code == 3);
  CHECK(mixed.err.find("trained without --reward vice") != std::string::npos);
}

TEST_CASE("rl-train sac --reward vice: bad settings and examples fail before training with one line") {
  testing::TempDir tmp;
  testing::CollectPush(tmp / "random", "random", 2, 2, {"--env", "push", "--cell.image-size", "32"});
  testing::CollectPush(tmp / "pendulum", "random", 2, 2, {"--env", "pendulum", "--cell.max-episode-steps", "5"});
  ::mkdir((tmp / "empty").c_str(), 0755);
  ::mkdir((tmp / "big").c_str(), 0755);
  sim::WritePng(tmp / "big/a.png", Array::Zeros(DType::kUint8, {64, 64, 3}));
  ::mkdir((tmp / "corrupt").c_str(), 0755);
  testing::WriteFile(tmp / "corrupt/a.png", "\x89PNG\r\n\x1a\n truncated");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
    std::string reward = "vice";
  };
  const std::vector<Case> cases = {
      {{"--data", tmp / "random"}, 2, "--reward must be env or vice, not 'oracle'", "oracle"},
      {{"--data", tmp / "random"}, 2, "--reward vice needs --vice.examples DIR"},
      {{"--data", tmp / "random", "--vice.examples", tmp / "empty", "--vice.classifier.mixup-alpha", "-1"}, 2,
       "--vice.classifier.mixup-alpha must be >= 0"},
      {{"--data", tmp / "random", "--vice.examples", tmp / "empty"}, 3, tmp / "empty: no example images"},
      {{"--data", tmp / "random", "--vice.examples", tmp / "big"}, 3,
       tmp / "big/a.png: the image is 64x64, the data's images are 32x32"},
      {{"--data", tmp / "random", "--vice.examples", tmp / "corrupt"}, 3,
       tmp / "corrupt/a.png: not a readable PNG or JPEG image"},
      {{"--data", tmp / "pendulum", "--vice.examples", tmp / "big"}, 3,
       "--reward vice needs data with exactly one image observation, this has 0"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--out", tmp / "run", "--steps", "2"});
    const auto r = RunProcess(Train(args, c.reward));
    INFO(c.message << ": " << r.err);
    CHECK(r.exit_code == c.code);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(!IsRegularFile(tmp / "run/latest.ckpt"));
  }
}

}  // namespace
}  // namespace perpetua
