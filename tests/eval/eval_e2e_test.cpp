// rl-eval end to end: the real binary on the real grasp cell.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "collect/checkpoint_fixture.h"
#include "corpus/corpus.h"
#include "corpus/mutate.h"
#include "nn/checkpoint.h"
#include "env_factory/make_env.h"
#include "rollout/rollout.h"
#include "rollout/video.h"
#include "support/tensorboard_events.h"
#include "eval/eval_command.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;
using testing::ToolPath;

const auto Eval = testing::EvalCommand;

nlohmann::json Report(const ProcessResult& r) {
  INFO(r.err);
  REQUIRE_FALSE(r.out.empty());
  return nlohmann::json::parse(r.out);
}

TEST_CASE("scripted and random policies pass and fail the gate") {
  const ProcessResult scripted =
      RunProcess(Eval({"--policy", "scripted", "--episodes", "16", "--min-success", "0.5"}));
  CAPTURE(scripted.err);
  CHECK(scripted.exit_code == 0);
  const nlohmann::json s = Report(scripted);
  CHECK(s["objects"] == "heldout");
  CHECK(s["a"]["episodes"] == 16);
  CHECK(s["a"]["success_rate"].get<double>() >= 0.5);
  CHECK(s["gate"]["passed"] == true);
  CHECK(s["a"]["per_object"].size() >= 1);
  CHECK(s["a"]["per_family"].size() >= 1);
  CHECK(scripted.err.find("95% Wilson") != std::string::npos);  // the table on stderr

  const ProcessResult random =
      RunProcess(Eval({"--policy", "random", "--episodes", "16", "--min-success", "0.5"}));
  CHECK(random.exit_code == 5);
  const nlohmann::json r = Report(random);
  CHECK(r["gate"]["passed"] == false);
  CHECK(random.err.find("FAILED") != std::string::npos);

  // --strict gates on the lower bound: a threshold between it and the rate
  // passes without --strict and fails with it.
  const double rate = s["a"]["success_rate"];
  const double low = s["a"]["wilson95"][0];
  REQUIRE(low < rate);
  const std::string between = std::to_string((low + rate) / 2);
  CHECK(RunProcess(Eval({"--policy", "scripted", "--episodes", "16", "--min-success", between})).exit_code == 0);
  CHECK(RunProcess(Eval({"--policy", "scripted", "--episodes", "16", "--min-success", between, "--strict"}))
            .exit_code == 5);
}

TEST_CASE("episodes a physics blow-up ended count as failures and are reported") {
  // Test-only fault: a real blow-up at step 1 of every episode with an even seed.
  testing::ScopedEnvVar fault("PERPETUA_SIM_BLOWUP", "1:2");
  const ProcessResult r = RunProcess(Eval({"--policy", "scripted", "--episodes", "8", "--seed", "3"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json a = Report(r)["a"];
  std::vector<uint64_t> even;
  for (int64_t i = 0; i < 8; ++i) {
    if (EpisodeSeed(3, i) % 2 == 0) even.push_back(EpisodeSeed(3, i));
  }
  REQUIRE_FALSE(even.empty());
  CHECK(a["episodes"] == 8);
  CHECK(a["unstable"] == even.size());
  CHECK(a["unstable_seeds"].get<std::vector<uint64_t>>() == even);
  CHECK(a["successes"].get<int64_t>() <= 8 - static_cast<int64_t>(even.size()));
  CHECK(r.err.find(std::to_string(even.size()) +
                   " episode(s) ended by a physics blow-up, counted as failures (seeds " +
                   std::to_string(even[0])) != std::string::npos);
}

TEST_CASE("the number of workers does not change the report") {
  const ProcessResult one = RunProcess(Eval({"--policy", "random", "--episodes", "10", "--seed", "3"}));
  const ProcessResult three =
      RunProcess(Eval({"--policy", "random", "--episodes", "10", "--seed", "3", "--workers", "3"}));
  REQUIRE(one.exit_code == 0);
  REQUIRE(three.exit_code == 0);
  nlohmann::json a = Report(one), b = Report(three);
  CHECK(a["config"] != b["config"]);  // it records --workers
  a.erase("config");
  b.erase("config");
  CHECK(a == b);
  CHECK(a["outcomes"]["a"][4]["seed"] == EpisodeSeed(3, 4));
}

TEST_CASE("paired comparison runs both policies on identical episodes") {
  TempDir dir;
  const ProcessResult r = RunProcess(Eval({"--policy", "scripted", "--compare", "random", "--episodes", "24",
                                           "--json", dir / "report.json"}));
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());  // the report went to the file
  const auto report = nlohmann::json::parse(testing::ReadFile(dir / "report.json"));
  const auto& a = report["outcomes"]["a"];
  const auto& b = report["outcomes"]["b"];
  REQUIRE(a.size() == 24);
  REQUIRE(b.size() == 24);
  for (size_t i = 0; i < 24; ++i) {
    CHECK(a[i]["seed"] == b[i]["seed"]);
    CHECK(a[i]["object_ids"] == b[i]["object_ids"]);  // same objects, episode by episode
  }
  CHECK(report["comparison"]["pairs"] == 24);
  CHECK(report["comparison"]["verdict"] == "better");
  CHECK(r.err.find("is better than B (random)") != std::string::npos);
  // A policy against itself is indistinguishable.
  const ProcessResult same =
      RunProcess(Eval({"--policy", "random", "--compare", "random", "--episodes", "8"}));
  CHECK(Report(same)["comparison"]["verdict"] == "indistinguishable");
  CHECK(same.err.find("can never call a difference") == std::string::npos);
  // Too few episodes for the paired test to ever call a difference: warned before they run.
  const ProcessResult few = RunProcess(Eval({"--policy", "scripted", "--compare", "random", "--episodes", "3"}));
  CHECK(few.exit_code == 0);
  CHECK(few.err.find("3 episodes: the paired test can never call a difference at alpha 0.05 (it needs at least 5 "
                     "episodes in which exactly one policy succeeds)") != std::string::npos);
  CHECK(few.err.find("only 3 episodes differ") != std::string::npos);
}

TEST_CASE("on a terminal rl-eval prints the table and leaves the JSON to --json or a pipe") {
  TempDir dir;
  // script(1) gives rl-eval a terminal for stdout (and stderr).
  std::string command;
  for (const std::string& arg : Eval({"--policy", "random", "--episodes", "2"})) command += "'" + arg + "' ";
  const ProcessResult tty = RunProcess({"script", "-qec", command, "/dev/null"});
  CAPTURE(tty.err);
  CHECK(tty.exit_code == 0);
  CHECK(tty.out.find("success 0/2") != std::string::npos);
  CHECK(tty.out.find("the JSON report is not printed on a terminal: --json FILE writes it") != std::string::npos);
  CHECK(tty.out.find("\"outcomes\"") == std::string::npos);
  // --json still writes the file from a terminal.
  const ProcessResult file = RunProcess({"script", "-qec", command + "--json '" + (dir / "r.json") + "'", "/dev/null"});
  CHECK(file.exit_code == 0);
  CHECK(nlohmann::json::parse(testing::ReadFile(dir / "r.json"))["a"]["episodes"] == 2);
}

TEST_CASE("videos of the first episodes and of failures decode with every frame") {
  TempDir dir;
  const ProcessResult r = RunProcess(Eval({"--policy", "random", "--episodes", "4", "--video", dir / "videos",
                                           "--video-first", "1", "--video-failures", "2",
                                           "--video-size", "96"}));
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json report = Report(r);
  std::vector<std::string> expected;
  int failures = 0;
  for (const auto& o : report["outcomes"]["a"]) {
    const int64_t index = o["index"];
    const bool success = o["success"];
    const bool wanted = index < 1 || (!success && failures < 2);
    if (index >= 1 && !success && failures < 2) ++failures;
    if (!wanted) continue;
    char name[64];
    std::snprintf(name, sizeof name, "episode-%05lld-%s.mp4", static_cast<long long>(index),
                  success ? "success" : "failure");
    expected.push_back(name);
    CHECK(CountVideoFrames(dir / ("videos/" + std::string(name))) == o["length"].get<int>() + 1);
  }
  CHECK(testing::ListFiles(dir / "videos") == expected);
}

TEST_CASE("an interrupted evaluation exits 130 without a report") {
  testing::ChildProcess child(Eval({"--policy", "random", "--episodes", "1000000", "--workers", "2"}));
  ::sleep(3);  // let it start (the outcome does not depend on how far it got)
  child.Signal(SIGINT);
  const ProcessResult r = child.Wait();
  CAPTURE(r.err);
  CHECK(r.exit_code == 130);
  CHECK(r.out.empty());
  CHECK(r.err.find("interrupted: no report written") != std::string::npos);
}

TEST_CASE("a checkpoint policy is evaluated and bad input is refused with its code") {
  TempDir dir;
  EnvConfig config;
  config.image_size = 32;
  const EnvSpec spec = MakeEnv(config)->spec();
  testing::WriteTestCheckpoint(dir / "q.ckpt", spec, "q-test");
  const ProcessResult ok = RunProcess(Eval({"--policy", dir / "q.ckpt", "--episodes", "2"}));
  CAPTURE(ok.err);
  CHECK(ok.exit_code == 0);
  nlohmann::json one_worker = Report(ok);
  CHECK(one_worker["a"]["policy_id"] == "checkpoint:q-test");
  // The table names a checkpoint by its path (and learner and step), not only by its id.
  CHECK(ok.err.find("policy " + dir / "q.ckpt") != std::string::npos);
  // CEM sampling is seeded per episode: more workers, same outcomes.
  const ProcessResult two = RunProcess(Eval({"--policy", dir / "q.ckpt", "--episodes", "2", "--workers", "2"}));
  REQUIRE(two.exit_code == 0);
  nlohmann::json two_workers = Report(two);
  CHECK(two_workers["outcomes"] == one_worker["outcomes"]);
  // --device cuda runs where CUDA is usable; elsewhere it is a usage error (2), never a failing
  // robot (4). (Debian's LibTorch, as in CI, has no CUDA: the second branch.)
  const ProcessResult cuda = RunProcess(Eval({"--policy", dir / "q.ckpt", "--episodes", "1", "--device", "cuda"}));
  CHECK((cuda.exit_code == 0 || cuda.exit_code == 2));
  if (cuda.exit_code != 0) {
    CHECK(cuda.err.find("device 'cuda' requested but this LibTorch build has no usable CUDA device") !=
          std::string::npos);
  }

  config.image_size = 48;
  testing::WriteTestCheckpoint(dir / "other.ckpt", MakeEnv(config)->spec(), "other");
  std::string bytes = testing::ReadFile(dir / "q.ckpt");
  bytes[bytes.size() / 2] ^= 0x5a;
  testing::WriteFile(dir / "corrupt.ckpt", bytes);
  testing::WriteFile(dir / "a-file", "");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--policy", "scripted", "--episodes", "0"}, 2, "--episodes must be at least 1, got 0"},
      {{"--policy", "scripted", "--episodes", "2", "--objects", "99999"}, 2, "99999"},
      {{"--policy", dir / "corrupt.ckpt", "--episodes", "2"}, 3, dir / "corrupt.ckpt"},
      {{"--policy", dir / "other.ckpt", "--episodes", "2"}, 3, dir / "other.ckpt"},
      {{"--policy", "scripted", "--compare", dir / "other.ckpt", "--episodes", "2"}, 3, dir / "other.ckpt"},
      {{"--policy", "scripted", "--episodes", "2", "--json", dir / "a-file/r.json"}, 6, dir / "a-file"},
      {{"--policy", "scripted", "--episodes", "2", "--min-success", "2"}, 2, "--min-success must be in [0, 1]"},
      {{"--episodes", "2"}, 2, "--policy is required"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = RunProcess(Eval(c.args));
    CAPTURE(r.err);
    CHECK(r.exit_code == c.code);
    CHECK(r.err.find("rl-eval: error: ") == 0);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("a checkpoint that learnt without the gripper's pose acts on a cell without it") {
  TempDir dir;
  EnvConfig config;
  config.image_size = 32;
  config.proprio_pose = false;
  testing::WriteTestCheckpoint(dir / "blind.ckpt", MakeEnv(config)->spec(), "blind");
  config.proprio_pose = true;
  testing::WriteTestCheckpoint(dir / "posed.ckpt", MakeEnv(config)->spec(), "posed");
  const auto proprio_pose = [](const ProcessResult& r) {
    return Report(r).at("env_args").at("env_kwargs").at("proprio_pose").get<bool>();
  };
  // The shapes match either way: only the recorded setting tells them apart.
  const ProcessResult blind = RunProcess(Eval({"--policy", dir / "blind.ckpt", "--episodes", "1"}));
  REQUIRE_MESSAGE(blind.exit_code == 0, blind.err);
  CHECK(blind.err.find((dir / "blind.ckpt") + " learnt without the gripper's x, y and yaw") != std::string::npos);
  CHECK_FALSE(proprio_pose(blind));
  const ProcessResult posed = RunProcess(Eval({"--policy", dir / "posed.ckpt", "--episodes", "1"}));
  REQUIRE_MESSAGE(posed.exit_code == 0, posed.err);
  CHECK(posed.err.find("learnt without") == std::string::npos);
  CHECK(proprio_pose(posed));
  // A compared pair that disagrees shares one cell: without the pose, and a warning says so.
  const ProcessResult pair = RunProcess(
      Eval({"--policy", dir / "posed.ckpt", "--compare", dir / "blind.ckpt", "--episodes", "1"}));
  REQUIRE_MESSAGE(pair.exit_code == 0, pair.err);
  CHECK(pair.err.find((dir / "posed.ckpt") + " learnt with the gripper's pose, " + (dir / "blind.ckpt") +
                      " without: both act on a cell without it") != std::string::npos);
  CHECK_FALSE(proprio_pose(pair));
}

TEST_CASE("a checkpoint that reads the wrist camera gets it, and one that does not is refused on a cell that adds it") {
  TempDir dir;
  EnvConfig config;
  config.image_size = 32;
  config.wrist_camera = true;
  testing::WriteTestSacCheckpoint(dir / "wrist.ckpt", MakeEnv(config)->spec(), "wrist");
  config.wrist_camera = false;
  testing::WriteTestSacCheckpoint(dir / "shoulder.ckpt", MakeEnv(config)->spec(), "shoulder");
  const ProcessResult wrist = RunProcess(Eval({"--policy", dir / "wrist.ckpt", "--episodes", "1"}));
  REQUIRE_MESSAGE(wrist.exit_code == 0, wrist.err);
  CHECK(wrist.err.find((dir / "wrist.ckpt") + " sees the wrist camera's image: the cell renders it") !=
        std::string::npos);
  CHECK(Report(wrist).at("env_args").at("env_kwargs").at("wrist_camera").get<bool>());
  // A policy that never saw the wrist image does not act on a cell that adds it.
  const ProcessResult refused =
      RunProcess(Eval({"--policy", dir / "shoulder.ckpt", "--cell.wrist-camera", "--episodes", "1"}));
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("rl-eval: error: " + (dir / "shoulder.ckpt")) == 0);
  CHECK(refused.err.find("wrist_image") != std::string::npos);
  CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
}

TEST_CASE("checkpoints with deep or wrongly typed metadata behind a valid hash are refused with exit 3") {
  TempDir dir;
  EnvConfig config;
  config.image_size = 32;
  testing::WriteTestCheckpoint(dir / "q.ckpt", MakeEnv(config)->spec(), "q-test");
  const CheckpointContents valid = ReadCheckpoint(dir / "q.ckpt");
  const auto write = [&](const std::string& name, const std::string& metadata_text) {
    testing::WriteFile(dir / name, corpus::RawCheckpoint(metadata_text, valid.blobs));
    return dir / name;
  };
  const auto with = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json meta = valid.metadata;
    edit(meta);
    return write(name, meta.dump());
  };
  std::string deep = valid.metadata.dump();
  deep.insert(deep.size() - 1, ",\"deep\":" + corpus::DeepJson(100000));  // crashed the JSON copy
  const std::vector<std::pair<std::string, std::string>> cases = {
      {write("deep.ckpt", deep), "checkpoint metadata: JSON nested deeper than 64 levels"},
      {with("algorithm.ckpt", [](nlohmann::json& m) { m["algorithm"] = 7; }), "field 'algorithm' has the wrong type"},
      {with("format.ckpt", [](nlohmann::json& m) { m["qtopt_format"] = 1.5; }), "field 'qtopt_format' has the wrong type"},
      {with("cem.ckpt", [](nlohmann::json& m) { m["cem"] = "fast"; }), "field 'cem' has the wrong type"},
      {with("hidden.ckpt", [](nlohmann::json& m) { m["network"]["hidden"] = "16"; }), "field 'hidden' has the wrong type"},
      {with("huge.ckpt", [](nlohmann::json& m) { m["network"]["hidden"] = 1 << 30; }), "weights hold fewer"},
      {with("id.ckpt", [](nlohmann::json& m) { m["id"] = nlohmann::json::array(); }), "field 'id' has the wrong type"},
  };
  for (const auto& [path, message] : cases) {
    const ProcessResult r = RunProcess(Eval({"--policy", path, "--episodes", "1"}));
    CAPTURE(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("rl-eval: error: " + path + ": ") == 0);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK(testing::Lines(r.err).size() == 1);
  }
}


TEST_CASE("--tensorboard writes the success rate and its interval at the given step") {
  TempDir tmp;
  const ProcessResult r = RunProcess(Eval({"--policy", "scripted", "--episodes", "8", "--json", tmp / "report.json",
                                           "--tensorboard", tmp / "tb", "--tensorboard-step", "1500"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json report = nlohmann::json::parse(testing::ReadFile(tmp / "report.json"));
  const std::vector<std::string> files = testing::EventFiles(tmp / "tb");
  REQUIRE(files.size() == 1);
  const auto tags = testing::ValuesByTag(files);
  CHECK(tags.size() == 3);
  const std::vector<std::pair<std::string, double>> expected = {
      {"heldout/success", report["a"]["success_rate"].get<double>()},
      {"heldout/wilson_low", report["a"]["wilson95"][0].get<double>()},
      {"heldout/wilson_high", report["a"]["wilson95"][1].get<double>()}};
  for (const auto& [tag, value] : expected) {
    INFO(tag);
    REQUIRE(tags.count(tag));
    REQUIRE(tags.at(tag).size() == 1);
    CHECK(tags.at(tag)[0].step == 1500);
    CHECK(tags.at(tag)[0].value["scalar"].get<double>() == doctest::Approx(value).epsilon(1e-6));
  }
  // A second evaluation adds a file to the same run directory.
  REQUIRE(RunProcess(Eval({"--policy", "random", "--episodes", "2", "--json", tmp / "r2.json", "--tensorboard",
                           tmp / "tb", "--tensorboard-step", "3000"}))
              .exit_code == 0);
  CHECK(testing::EventFiles(tmp / "tb").size() == 2);

  ProcessResult bad = RunProcess(Eval({"--policy", "random", "--tensorboard", tmp / "tb", "--tensorboard-step", "-1"}));
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "rl-eval: error: --tensorboard-step must be >= 0\n");
  bad = RunProcess(Eval({"--policy", "random", "--tensorboard-step", "10"}));
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "rl-eval: error: --tensorboard-step needs --tensorboard DIR\n");
  testing::WriteFile(tmp / "file", "x");
  bad = RunProcess(Eval({"--policy", "random", "--episodes", "1", "--tensorboard", tmp / "file"}));
  CHECK(bad.exit_code == 6);
  CHECK(testing::Lines(bad.err).size() == 1);
  CHECK(bad.err.find(tmp / "file") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
