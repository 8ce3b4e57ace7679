// End-to-end tests of the shell scripts that compose the tools: the learning
// loop (scripts/loop.sh) and nightly retraining (scripts/nightly.sh), run as
// real processes on the real grasp cell with tiny budgets.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <regex>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "data/dataset_reader.h"
#include "support/tensorboard_events.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ChildProcess;
using testing::ProcessResult;
using testing::ReadFile;
using testing::RunProcess;
using testing::SourcePath;
using testing::TempDir;
using testing::ToolPath;
namespace fs = std::filesystem;

// The tools of this build tree, not a fresh setup.
const std::string kBinEnv = "PERPETUA_BIN=" + fs::path(ToolPath("rl-train")).parent_path().string();

// Tiny budgets: a round trains a few dozen steps on a handful of episodes
// (the trainer writes a checkpoint every round, --checkpoint-every 20).
std::vector<std::string> LoopCommand(const std::string& dir, int rounds) {
  return {"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir", dir,
          "--rounds", std::to_string(rounds), "--round-steps", "20", "--eval-episodes", "4",
          "--final-episodes", "4", "--bootstrap-scripted", "6", "--bootstrap-random", "2",
          "--batch-size", "16", "--algo", "q", "--train-arg", "--min-transitions=32",
          "--train-arg", "--network.encoder-channels=8,16",
          "--train-arg", "--network.head-channels=16", "--train-arg", "--network.hidden=32"};
}

int64_t EpisodesIn(const std::string& dir) {
  const ProcessResult r = RunProcess({ToolPath("rl-data"), "inspect", dir});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto pos = r.out.find("\"episodes\":");
  REQUIRE(pos != std::string::npos);
  return std::stoll(r.out.substr(pos + 11));
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST_CASE("the loop runs rounds and leaves valid shards, checkpoints, reports and a curve") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  const ProcessResult r = RunProcess(LoopCommand(dir, 2));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == dir + "/final.json\n");  // stdout: only the final report's path
  CHECK(EpisodesIn(dir + "/data") >= 8);
  for (const std::string ckpt : {"train/latest.ckpt", "promoted.ckpt"}) {
    CAPTURE(ckpt);
    const ProcessResult e = RunProcess({ToolPath("rl-eval"), "--env", "grasp", "--policy",
                                        dir + "/" + ckpt, "--episodes", "2"});
    CHECK_MESSAGE(e.exit_code == 0, e.err);  // the checkpoint loads and acts
    // It reads the clock (the loop's grasp default): rl-eval shows it without being told.
    CHECK(e.err.find("reads the observation time_left: the cell shows it") != std::string::npos);
  }
  // One row per evaluated round checkpoint: round 2's always; round 1's unless
  // the trainer outran its evaluation (then it is skipped, logged).
  const std::string curve = ReadFile(dir + "/curve.csv");
  CHECK(curve.rfind("round,minutes,episodes,train_steps,success,", 0) == 0);
  const int evaluated = CountLines(curve) - 1;
  CHECK((evaluated == 1 || evaluated == 2));
  CHECK(curve.substr(curve.rfind('\n', curve.size() - 2) + 1).rfind("2,", 0) == 0);
  for (const std::string report : {"eval/round-2.json", "final.json"}) {
    CAPTURE(report);
    const std::string text = ReadFile(dir + "/" + report);
    CHECK(text.find("\"success_rate\"") != std::string::npos);
    CHECK(text.find("\"wilson95\"") != std::string::npos);
  }
  if (evaluated == 2) {
    CHECK(ReadFile(dir + "/eval/round-1.json").find("\"success_rate\"") != std::string::npos);
    CHECK(ReadFile(dir + "/eval/round-2.json").find("\"verdict\"") != std::string::npos);
  } else {
    CHECK(ReadFile(dir + "/logs/loop.log").find("evaluation fell behind: skipping 1 stale round checkpoint(s), "
                                                "evaluating step 40") != std::string::npos);
  }
  CHECK(ReadFile(dir + "/curve.png").rfind("\x89PNG", 0) == 0);
  CHECK(ReadFile(dir + "/loop.state").find("round=2") != std::string::npos);
  // The run page: the curve's rounds, the final evaluation, its videos beside it.
  const std::string page = ReadFile(dir + "/report/index.html");
  CHECK(static_cast<int>(testing::Lines(page).size()) > 10);
  size_t dots = 0;
  for (size_t at = page.find("<circle"); at != std::string::npos; at = page.find("<circle", at + 1)) ++dots;
  CHECK(dots == size_t(evaluated));
  CHECK(ReadFile(dir + "/report/report.json") == ReadFile(dir + "/final.json"));
  CHECK(!testing::ListFiles(dir + "/report/videos", ".mp4").empty());

  // TensorBoard: each round's held-out success and interval at its training
  // steps (as in the curve), and the trainer's rows with no step twice.
  const auto loop = testing::ValuesByTag(testing::EventFiles(dir + "/tensorboard/loop"));
  std::istringstream rows(curve.substr(curve.find('\n') + 1));
  std::string row;
  for (size_t round = 0; std::getline(rows, row); ++round) {
    std::vector<std::string> cells;
    std::istringstream split(row);
    for (std::string cell; std::getline(split, cell, ',');) cells.push_back(cell);
    CAPTURE(row);
    REQUIRE(cells.size() >= 7);
    const std::vector<std::pair<std::string, std::string>> tags = {
        {"heldout/success", cells[4]}, {"heldout/wilson_low", cells[5]}, {"heldout/wilson_high", cells[6]}};
    for (const auto& [tag, value] : tags) {
      REQUIRE(loop.count(tag));
      REQUIRE(loop.at(tag).size() == static_cast<size_t>(evaluated));
      CHECK(loop.at(tag)[round].step == std::stoll(cells[3]));
      CHECK(loop.at(tag)[round].value["scalar"].get<double>() == doctest::Approx(std::stod(value)).epsilon(1e-4));
    }
  }
  // The final evaluation: a run of its own, at the last round's steps.
  const auto final_board = testing::ValuesByTag(testing::EventFiles(dir + "/tensorboard/final"));
  REQUIRE(final_board.count("heldout/success"));
  REQUIRE(final_board.at("heldout/success").size() == 1);
  CHECK(final_board.at("heldout/success")[0].step == 40);
  const std::string final_json = ReadFile(dir + "/final.json");
  const double final_rate = std::stod(final_json.substr(final_json.find("\"success_rate\":") + 15));
  CHECK(final_board.at("heldout/success")[0].value["scalar"].get<double>() == doctest::Approx(final_rate));
  // The final line of reasons counts every failed episode of the final evaluation.
  const std::string reasons_at = "final: held-out failures: ";
  const size_t reasons = r.err.find(reasons_at);
  REQUIRE(reasons != std::string::npos);
  std::istringstream listed(r.err.substr(reasons + reasons_at.size(), r.err.find('\n', reasons) - reasons -
                                                                            reasons_at.size()));
  int failed = 0;
  for (std::string item; std::getline(listed, item, ',');) {
    if (item.find("none") == std::string::npos) failed += std::stoi(item);
  }
  CHECK(failed == static_cast<int>(std::lround(4 * (1.0 - final_rate))));
  const auto train = testing::ValuesByTag(testing::EventFiles(dir + "/train/tensorboard"));
  REQUIRE(train.count("learner/loss"));
  const auto& loss = train.at("learner/loss");
  CHECK(loss.back().step == 40);
  for (size_t i = 1; i < loss.size(); ++i) CHECK(loss[i].step > loss[i - 1].step);
}

TEST_CASE("bad loop options are usage errors") {
  TempDir tmp;
  ProcessResult r = RunProcess({"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir",
                                tmp / "run", "--rounds", "two"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "loop: error: --rounds: 'two' is not a whole number\n");
  r = RunProcess({"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--frobnicate"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown option '--frobnicate'") != std::string::npos);
  r = RunProcess({"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir", tmp / "run", "--algo", "ppo"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "loop: error: --algo: 'ppo' is not q or sac\n");
  const auto loop = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir", tmp / "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--env", "kitchen"},
       "--env: 'kitchen' is not grasp, push, door, pendulum or a robot tcp://HOST:PORT | unix:///PATH"},
      {{"--pace", "-1"}, "--pace: '-1' is not a number >= 0"},
      {{"--pace", "fast"}, "--pace: 'fast' is not a number >= 0"},
      {{"--goal", "80"}, "--goal: '80' is not a number in [0, 1]"},
      {{"--rounds"}, "--rounds needs a value"},
      {{"--config", tmp / "missing.yaml"}, "--config: cannot read '" + tmp / "missing.yaml" + "'"},
      {{"--config", tmp / "bad.yaml"}, "--config: " + tmp / "bad.yaml" + ": line 2: expected 'key: value', got 'rounds 3'"},
      {{"--config", tmp / "nested.yaml"},
       "--config: " + tmp / "nested.yaml" + ": line 1: a config file cannot include another"},
      {{"--config", tmp / "unknown.yaml"}, "unknown option '--colour'"},
  };
  testing::WriteFile(tmp / "bad.yaml", "env: push\nrounds 3\n");
  testing::WriteFile(tmp / "nested.yaml", "config: other.yaml\n");
  testing::WriteFile(tmp / "unknown.yaml", "colour: blue\n");
  for (const auto& [args, message] : cases) {
    CAPTURE(message);
    r = loop(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("loop: error: " + message) == 0);
  }
  CHECK_FALSE(fs::exists(tmp / "run"));  // nothing was started
}

TEST_CASE("reject_owned_train_args: a flag that only begins like an owned one is the user's") {
  // The refusals themselves, through loop.sh and nightly.sh: durability_test.cpp.
  const ProcessResult r = RunProcess({"bash", "-c",
                                      "set -u; prog=loop; . \"$1\"; reject_owned_train_args \"online=- steps=-\" "
                                      "--online-fraction=0.5 --steps-per-second 3 && echo accepted",
                                      "reject", SourcePath("scripts/common.sh")});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "accepted\n");
}

TEST_CASE("the learner's defaults: sac on grasp gets the measured temperature, the averaged policy, a discrete terminate and one thread, unless told") {
  // learner_flags in scripts/common.sh, as loop.sh and nightly.sh call it. The checkpoint a run
  // continues from is read with "$bin/rl-train inspect CKPT --yaml": here a stand-in that prints
  // the network line of a checkpoint with or without a discrete terminate.
  const TempDir tmp;
  const std::string bin = tmp / "bin", with = tmp / "with.ckpt", without = tmp / "without.ckpt";
  fs::create_directories(bin);
  testing::WriteFile(bin + "/rl-train",
                     "#!/bin/sh\ncase \"$2\" in *with.ckpt) echo '  discrete_terminate: true  # help' ;; "
                     "*) echo '  discrete_terminate: false  # help' ;; esac\n");
  fs::permissions(bin + "/rl-train", fs::perms::owner_all);
  testing::WriteFile(with, "");
  testing::WriteFile(without, "");
  const auto flags = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"bash", "-c",
                                     "set -u; prog=loop; bin=\"$2\"; . \"$1\"; shift 2; learner_flags \"$@\"; "
                                     "echo \"${learner_train[*]}\"",
                                     "flags", SourcePath("scripts/common.sh"), bin};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = RunProcess(argv);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  };
  const std::string discrete = "--sac.network.discrete-terminate";
  const std::string defaults = "--sac.initial-alpha=0.1 --sac.policy-average=0.0005 ";
  CHECK(flags({"sac", "grasp", "1", ""}) == defaults + discrete + " --threads=1\n");
  CHECK(flags({"sac", "grasp", "0", ""}) == defaults + discrete + "\n");  // nightly, offline
  CHECK(flags({"sac", "grasp", "1", "", "--threads=2"}) == defaults + discrete + "\n");
  CHECK(flags({"sac", "grasp", "1", "", "--sac.initial-alpha", "1", "--threads", "0", "--no-" + discrete.substr(2),
               "--sac.policy-average=0"}) == "\n");
  CHECK(flags({"sac", "grasp", "1", "", "--sac.policy-average", "0"}) ==
        "--sac.initial-alpha=0.1 " + discrete + " --threads=1\n");
  CHECK(flags({"sac", "grasp", "1", "", discrete + "=false"}) == defaults + "--threads=1\n");
  // A run continues with the network it has: a checkpoint without a discrete terminate keeps it off.
  CHECK(flags({"sac", "grasp", "1", without}) == defaults + "--threads=1\n");
  CHECK(flags({"sac", "grasp", "1", with}) == defaults + discrete + " --threads=1\n");
  CHECK(flags({"sac", "grasp", "1", tmp / "missing.ckpt"}) ==
        defaults + discrete + " --threads=1\n");
  CHECK(flags({"sac", "push", "1", ""}) == "\n");
  CHECK(flags({"q", "grasp", "1", ""}) == "\n");
}

TEST_CASE("SAC on grasp sees through the wrist camera unless told, or resuming a run that had none") {
  TempDir tmp;
  const std::string bin = tmp / "bin";
  fs::create_directories(bin);
  // rl-train inspect's table names each observation ("observes  wrist_image ...") on stderr.
  testing::WriteFile(bin + "/rl-train",
                     "#!/bin/sh\necho 'observes    image uint8 [64,64,3]' >&2\n"
                     "case \"$2\" in *wrist.ckpt) echo 'observes    wrist_image uint8 [64,64,3]' >&2 ;; esac\n");
  fs::permissions(bin + "/rl-train", fs::perms::owner_all);
  // A run directory named after the key must not read as the key (stdout, the JSON, names its data).
  testing::WriteFile(bin + "/rl-train",
                     ReadFile(bin + "/rl-train") + "echo '{\"data\": [\"/runs/wrist_image/data\"]}'\n");
  const std::string wrist = tmp / "wrist.ckpt", shoulder = tmp / "shoulder.ckpt";
  testing::WriteFile(wrist, "");
  testing::WriteFile(shoulder, "");
  const auto flags = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"bash", "-c",
                                     "set -u; prog=loop; bin=\"$2\"; . \"$1\"; shift 2; camera_flags \"$@\"; "
                                     "echo \"${camera_cell[*]}\"",
                                     "flags", SourcePath("scripts/common.sh"), bin};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = RunProcess(argv);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  };
  CHECK(flags({"sac", "grasp", ""}) == "--cell.wrist-camera\n");
  CHECK(flags({"sac", "grasp", tmp / "missing.ckpt"}) == "--cell.wrist-camera\n");
  CHECK(flags({"sac", "grasp", wrist}) == "--cell.wrist-camera\n");
  CHECK(flags({"sac", "grasp", shoulder}) == "\n");  // a run continues with the cameras it has
  CHECK(flags({"sac", "grasp", "", "--cell.observe-time", "--no-cell.wrist-camera"}) == "\n");
  CHECK(flags({"sac", "grasp", "", "--cell.wrist-camera=false"}) == "\n");  // the user's own setting stands
  CHECK(flags({"sac", "grasp", shoulder, "--cell.wrist-camera"}) == "\n");
  CHECK(flags({"q", "grasp", ""}) == "\n");  // QT-Opt's network takes one image
  CHECK(flags({"sac", "push", ""}) == "\n");
}

TEST_CASE("the loop with SAC on grasp collects, trains and evaluates with the wrist camera, or without when told") {
  for (const bool off : {false, true}) {
    CAPTURE(off);
    TempDir tmp;
    const std::string dir = tmp / "run";
    std::vector<std::string> command = {
        "env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir", dir, "--rounds", "1", "--round-steps", "10",
        "--eval-episodes", "2", "--final-episodes", "2", "--bootstrap-scripted", "3", "--bootstrap-random", "1",
        "--batch-size", "8", "--cell-arg", "--cell.image-size=32", "--train-arg", "--sac.network.hidden=16",
        "--train-arg", "--sac.network.encoder-channels=8,8", "--train-arg", "--sac.network.encoder-strides=2,2",
        "--train-arg", "--sac.network.feature-dim=8"};
    if (off) command.insert(command.end(), {"--cell-arg", "--no-cell.wrist-camera"});
    const ProcessResult r = RunProcess(command);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // Every shard, the bootstrap's and the collector's, holds the image or none does.
    const ProcessResult inspect = RunProcess({ToolPath("rl-data"), "inspect", dir + "/data"});
    REQUIRE_MESSAGE(inspect.exit_code == 0, inspect.err);
    const size_t keys = inspect.err.find("\nkeys: ");  // the table on stderr; JSON on stdout
    REQUIRE(keys != std::string::npos);
    const std::string key_line = inspect.err.substr(keys + 1, inspect.err.find('\n', keys + 1) - keys - 1);
    CAPTURE(key_line);
    CHECK((key_line.find("wrist_image uint8 [32, 32, 3]") != std::string::npos) == !off);
    const std::string final_report = ReadFile(dir + "/final.json");
    CHECK((final_report.find("\"wrist_camera\": true") != std::string::npos) == !off);
    CHECK((final_report.find("\"wrist_camera\": false") != std::string::npos) == off);
    // Its checkpoint brings the camera to rl-eval by itself.
    const ProcessResult e = RunProcess({ToolPath("rl-eval"), "--env", "grasp", "--cell.image-size", "32", "--policy",
                                        dir + "/promoted.ckpt", "--episodes", "2"});
    CHECK_MESSAGE(e.exit_code == 0, e.err);
    CHECK((e.err.find("sees the wrist camera's image: the cell renders it") != std::string::npos) == !off);
  }
}

TEST_CASE("setup.sh and test.sh --help print their usage and install, build and run nothing") {
  TempDir tmp;
  for (const char* script : {"scripts/setup.sh", "scripts/test.sh"}) {
    CAPTURE(script);
    const ProcessResult r = RunProcess({"env", "PERPETUA_BUILD_DIR=" + tmp / "build", "bash", SourcePath(script), "--help"});
    CHECK(r.exit_code == 0);
    CHECK((r.out.find("Usage") != std::string::npos || r.out.find("scripts/setup.sh") != std::string::npos));
    CHECK(r.err.empty());
    CHECK_FALSE(fs::exists(tmp / "build"));  // nothing configured or built
  }
}

TEST_CASE("the loop trains SAC on another cell, from a config file, with a paced collector") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  // The same options as flags and as a config file; the flags win.
  testing::WriteFile(tmp / "push.yaml",
                     "# SAC on push\n"
                     "env: push\n"
                     "algo: sac\n"
                     "rounds: 5  # overridden below\n"
                     "round_steps: 30\n"
                     "eval-episodes: 2\n"
                     "final-episodes: 2\n"
                     "bootstrap-scripted: 4\n"
                     "bootstrap-random: 2\n"
                     "batch-size: 16\n"
                     "pace: 0.5\n"
                     "train-arg: --min-transitions=32\n"
                     "train-arg: --sac.network.encoder-channels=8,8\n"
                     "train-arg: --sac.network.encoder-strides=2,2\n"
                     "train-arg: \"--sac.network.hidden=32\"\n");
  const ProcessResult r = RunProcess({"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir", dir,
                                      "--config", tmp / "push.yaml", "--rounds", "1"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == dir + "/final.json\n");
  CHECK(ReadFile(dir + "/train/config.yaml").find("actor_lr:") != std::string::npos);  // rl-train sac's config
  CHECK(ReadFile(dir + "/loop.state").find("round=1") != std::string::npos);
  const std::string log = ReadFile(dir + "/logs/loop.log");
  CHECK(log.find("policy scripted:push on cell push") != std::string::npos);  // the bootstrap
  CHECK(log.find("paced to the trainer of " + dir + "/train (0.5 steps per gradient step") != std::string::npos);
  CHECK(ReadFile(dir + "/train/trainer.step") == "00000000000000000030\n");
  CHECK(ReadFile(dir + "/final.json").find("\"success_rate\"") != std::string::npos);
  const ProcessResult inspect = RunProcess({ToolPath("rl-data"), "inspect", "--quick", dir + "/data"});
  CHECK(inspect.out.find("\"env_name\": \"push\"") != std::string::npos);

  // Nightly retraining of the same learner on the same cell, from the promoted SAC policy.
  const ProcessResult nightly = RunProcess(
      {"env", kBinEnv, "bash", SourcePath("scripts/nightly.sh"), "--dir", dir, "--algo", "sac", "--env", "push",
       "--steps", "20", "--eval-episodes", "2", "--train-arg", "--batch-size=16",
       "--train-arg", "--sac.network.encoder-channels=8,8", "--train-arg", "--sac.network.encoder-strides=2,2",
       "--train-arg", "--sac.network.hidden=32"});
  CHECK_MESSAGE((nightly.exit_code == 0 || nightly.exit_code == 5), nightly.err);
  CHECK(nightly.err.find("--init " + dir + "/promoted.ckpt") != std::string::npos);
  bool evaluated = false;
  for (const auto& entry : fs::directory_iterator(dir + "/nightly")) {
    const std::string eval = ReadFile(entry.path().string() + "/eval.json");
    evaluated = evaluated || eval.find("\"success_rate\"") != std::string::npos;
    CHECK(fs::exists(entry.path() / "DONE"));
    CHECK(ReadFile(entry.path().string() + "/config.yaml").find("actor_lr:") != std::string::npos);
  }
  CHECK(evaluated);
}

TEST_CASE("the loop on a robot: no scripted policy, and each evaluation takes the robot from the collector") {
  TempDir tmp;
  // A robot that serves one session at a time: the simulated pendulum behind the protocol.
  ChildProcess server({ToolPath("rl-robot"), "serve", "--env", "pendulum", "--listen", "tcp://127.0.0.1:0"});
  const std::string address = testing::WaitForLines(server, 1).front();
  const std::vector<std::string> base = {"env", kBinEnv, "bash", SourcePath("scripts/loop.sh"), "--dir", tmp / "run",
                                         "--env", address, "--algo", "sac"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> command = base;
    command.insert(command.end(), extra.begin(), extra.end());
    return command;
  };
  ProcessResult r = RunProcess(with({"--bootstrap-policy", "scripted"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "loop: error: --bootstrap-policy: a robot has no scripted policy (only simulated cells do); give "
                 "random or a checkpoint file\n");
  r = RunProcess(with({"--bootstrap-policy", tmp / "missing.ckpt"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("is not scripted, random or a checkpoint file") != std::string::npos);
  r = RunProcess(with({"--rounds", "2", "--round-steps", "150", "--eval-episodes", "2", "--final-episodes", "2",
                       "--bootstrap-scripted", "0", "--bootstrap-random", "2", "--train-arg", "--min-transitions=64",
                       "--train-arg", "--sac.network.hidden=16,16"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string log = ReadFile(tmp / "run/logs/loop.log");
  CHECK(log.find("bootstrap: 2 random episodes") != std::string::npos);
  CHECK(log.find("scripted") == std::string::npos);
  CHECK(log.find("the robot serves one session: pausing the live collector for the evaluation") != std::string::npos);
  CHECK(log.find("busy") == std::string::npos);
  CHECK(fs::exists(tmp / "run/final.json"));
  CHECK(ReadFile(tmp / "run/curve.csv").find("\n2,") != std::string::npos);  // round 2 evaluated
}

TEST_CASE("a loop killed mid-round resumes and loses no finished episode") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  // Run the loop in its own process group so SIGKILL takes the tools with it,
  // as a power cut would.
  std::vector<std::string> command = {"setsid"};
  for (const auto& a : LoopCommand(dir, 3)) command.push_back(a);
  {
    ChildProcess loop(command);
    // Wait until the first round is collecting online, then kill everything.
    for (int i = 0; i < 600 && ReadFile(dir + "/logs/loop.log").find("round 1: training") ==
                                    std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ::kill(-loop.pid(), SIGKILL);
    loop.Wait();
    // The tools die a moment after the shell (one may be inside an fsync);
    // until the last is gone it still holds the loop's lock, as it should.
    for (int i = 0; i < 300 && ::kill(-loop.pid(), 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // Recover what the killed collector staged, then count.
  REQUIRE(RunProcess({ToolPath("rl-data"), "recover", dir + "/data"}).exit_code == 0);
  const int64_t before = EpisodesIn(dir + "/data");
  CHECK(before >= 8);
  const ProcessResult r = RunProcess(LoopCommand(dir, 3));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(EpisodesIn(dir + "/data") >= before);  // nothing lost
  CHECK(ReadFile(dir + "/loop.state").find("round=3") != std::string::npos);
  CHECK(ReadFile(dir + "/logs/loop.log").find("bootstrap: 6 scripted") != std::string::npos);
}

TEST_CASE("two nightly runs at once: the second exits 8 and harms nothing") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  REQUIRE(RunProcess(LoopCommand(dir, 1)).exit_code == 0);
  // No --algo: nightly trains with the learner of promoted.ckpt (q here; sac
  // would refuse the --network.* flags).
  const std::vector<std::string> nightly = {
      "env", kBinEnv, "bash", SourcePath("scripts/nightly.sh"), "--dir", dir, "--steps", "60",
      "--eval-episodes", "4", "--keep", "2", "--train-arg", "--min-transitions=32",
      "--train-arg", "--batch-size=16", "--train-arg", "--network.encoder-channels=8,16",
      "--train-arg", "--network.head-channels=16", "--train-arg", "--network.hidden=32"};
  ChildProcess first(nightly);
  for (int i = 0; i < 600 && !fs::exists(dir + "/nightly"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const ProcessResult second = RunProcess(nightly);
  CHECK(second.exit_code == 8);
  CHECK(second.err.find("nightly: another nightly run holds") == 0);
  const ProcessResult done = first.Wait();
  CHECK_MESSAGE((done.exit_code == 0 || done.exit_code == 5), done.err);
  // One run directory, finished and evaluated.
  int runs = 0;
  for (const auto& entry : fs::directory_iterator(dir + "/nightly")) {
    ++runs;
    CHECK(fs::exists(entry.path() / "DONE"));
    CHECK(fs::exists(entry.path() / "eval.json"));
  }
  CHECK(runs == 1);
}

TEST_CASE("loop.state is read as data never run as code") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  fs::create_directories(dir);
  testing::WriteFile(dir + "/loop.state", "round=1\nspent_s=$(touch " + tmp.path() + "/ran)\n");
  const ProcessResult r = RunProcess(LoopCommand(dir, 1));
  CHECK(r.exit_code == 3);
  CHECK(r.err == "loop: error: " + dir + "/loop.state: line 2: expected round=N, spent_s=N or "
                 "round_s=N (N a whole number), got 'spent_s=$(touch " + tmp.path() + "/ran)'\n");
  CHECK_FALSE(fs::exists(tmp / "ran"));
  CHECK_FALSE(fs::exists(dir + "/data/.staging"));  // stopped before collecting anything
}

TEST_CASE("damaged shards are quarantined and the loop goes on with the rest") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  // The bootstrap, as the loop collects it, in three shards.
  std::vector<std::string> shards;
  for (const auto& [policy, episodes, first, seed] :
       {std::tuple{"scripted", "6", "0", "1"}, {"random", "2", "6", "2"}}) {
    const ProcessResult c = RunProcess({ToolPath("rl-collect"), "--env", "grasp", "--cell.observe-time",
                                        "--policy", policy, "--episodes", episodes, "--first-episode", first, "--seed", seed,
                                        "--out", dir + "/data", "--dataset.episodes-per-shard", "3"});
    REQUIRE_MESSAGE(c.exit_code == 0, c.err);
    for (const auto& shard : testing::Lines(c.out)) shards.push_back(shard);
  }
  REQUIRE(shards.size() == 3);
  const auto quarantined = [&](const std::string& shard) {
    return "quarantined: " + dir + "/data/.quarantine/" + fs::path(shard).filename().string();
  };
  // A rotten chunk of actions: the quick count cannot see it, rl-train can.
  testing::RotFirstChunk(shards[0], "data/demo_0/actions");
  ProcessResult r = RunProcess(LoopCommand(dir, 1));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::string log = ReadFile(dir + "/logs/loop.log");
  CHECK(log.find("round 1: rl-train found damaged data (exit 3)") != std::string::npos);
  CHECK(log.find(quarantined(shards[0])) != std::string::npos);
  CHECK(log.find("round 1: retrying without the quarantined shards") != std::string::npos);
  CHECK(fs::exists(dir + "/data/.quarantine/" + fs::path(shards[0]).filename().string() + ".why"));
  CHECK(log.find("bootstrap:") == std::string::npos);  // the count was never 0
  // A truncated shard: the count sees it.
  REQUIRE(::truncate(shards[2].c_str(), 3000) == 0);
  r = RunProcess(LoopCommand(dir, 2));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  log = ReadFile(dir + "/logs/loop.log");
  CHECK(log.find(dir + "/data does not inspect cleanly") != std::string::npos);
  CHECK(log.find(quarantined(shards[2])) != std::string::npos);
  CHECK(log.find("bootstrap:") == std::string::npos);
  CHECK(ReadFile(dir + "/loop.state").find("round=2") != std::string::npos);
}

// A bin directory whose rl-collect runs the real one but SIGKILLs it
// `seconds` into a --forever run: the first such run only, or (always) every one.
std::string DyingCollectorBin(const std::string& dir, bool always, const std::string& seconds) {
  const std::string real = fs::path(ToolPath("rl-collect")).parent_path().string();
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(real)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("rl-", 0) == 0 && name != "rl-collect") fs::create_symlink(entry.path(), dir + "/" + name);
  }
  testing::WriteFile(dir + "/rl-collect",
                     "#!/bin/bash\n"
                     "case \" $* \" in *\" --forever \"*)\n"
                     "  if [ " + std::string(always ? "1" : "! -e " + dir + "/died") + " ]; then\n"
                     "    touch " + dir + "/died\n"
                     "    " + real + "/rl-collect \"$@\" & pid=$!\n"
                     "    sleep " + seconds + "; kill -KILL $pid; wait $pid; exit $?\n"
                     "  fi ;;\n"
                     "esac\n"
                     "exec " + real + "/rl-collect \"$@\"\n");
  fs::permissions(dir + "/rl-collect", fs::perms::owner_all);
  return "PERPETUA_BIN=" + dir;
}

std::vector<std::string> WithBin(std::vector<std::string> command, const std::string& bin_env) {
  for (auto& a : command) {
    if (a == kBinEnv) a = bin_env;
  }
  return command;
}

TEST_CASE("a live collector that dies mid-round is restarted") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  // Killed a few episodes in: some are staged, not yet in a shard.
  std::vector<std::string> command =
      WithBin(LoopCommand(dir, 1), DyingCollectorBin(tmp / "bin", false, "3"));
  command.insert(command.end(), {"--round-steps", "400"});
  const ProcessResult r = RunProcess(command);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string log = ReadFile(dir + "/logs/loop.log");
  CHECK(log.find("round 1: the live collector (rl-collect) exited with code 137 mid-round") != std::string::npos);
  CHECK(log.find("round 1: restarting the live collector (1 of 3) at episode ") != std::string::npos);
  CHECK(ReadFile(dir + "/loop.state").find("round=1") != std::string::npos);
  // The new collector's episodes follow the dead one's (recovered first): no seed twice.
  DatasetReader reader({dir + "/data"});
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    CHECK(seeds.insert(reader.ReadEpisode(i).metadata.seed).second);
  }
}

TEST_CASE("a live collector that keeps dying fails the round clearly") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  std::vector<std::string> command = WithBin(LoopCommand(dir, 1), DyingCollectorBin(tmp / "bin", true, "0.3"));
  command.insert(command.end(), {"--round-steps", "100000"});
  const ProcessResult r = RunProcess(command);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("round 1 failed: the live collector died 4 times; stopping the trainer") != std::string::npos);
  CHECK(ReadFile(dir + "/loop.state").find("round=0") != std::string::npos);  // not counted as done
}

TEST_CASE("one trainer and one collector serve the whole run - checkpoints are evaluated as they appear") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  std::vector<std::string> command = LoopCommand(dir, 3);
  command.insert(command.end(), {"--round-steps", "150", "--online-window", "500"});
  const ProcessResult r = RunProcess(command);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string log = ReadFile(dir + "/logs/loop.log");
  const auto count = [&](const std::string& what) {
    int n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("loop: rl-train started (pid ") == 1);
  CHECK(count("rl-train: training qtopt") == 1);  // the trainer's own start line
  CHECK(count("the first checkpoint exists: the live collector now acts with") == 1);
  CHECK(log.find("rl-collect: policy scripted") != std::string::npos);
  CHECK(ReadFile(dir + "/train/config.yaml").find("online_window: 500") != std::string::npos);
  CHECK(ReadFile(dir + "/loop.state").find("round=3") != std::string::npos);
  CHECK(ReadFile(dir + "/train/trainer.step") == "00000000000000000450\n");
  // At least one round's evaluation started while the trainer was still training.
  const std::regex evaluating("evaluating \\S+/train/ckpt-0*([0-9]+)\\.ckpt \\(the trainer is at step ([0-9]+)\\)");
  bool during = false;
  int evaluations = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), evaluating), end; it != end; ++it) {
    ++evaluations;
    during = during || std::stoll((*it)[2]) < 450;
  }
  CHECK(evaluations >= 1);
  CHECK(during);
  const std::string curve = ReadFile(dir + "/curve.csv");
  CHECK(CountLines(curve) - 1 == evaluations);
  CHECK(curve.substr(curve.rfind('\n', curve.size() - 2) + 1).rfind("3,", 0) == 0);
}

TEST_CASE("the loop stops at its budget, resumes with the budget spent, and stops cleanly on SIGTERM") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  std::vector<std::string> command = LoopCommand(dir, 0);
  command.insert(command.end(), {"--minutes", "0.25"});
  ProcessResult r = RunProcess(command);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string state = ReadFile(dir + "/loop.state");
  CHECK(state.find("round=0") == std::string::npos);  // at least one round
  const int64_t spent = std::stoll(state.substr(state.find("spent_s=") + 8));
  CHECK(spent >= 15);
  CHECK(spent < 300);
  const std::string curve = ReadFile(dir + "/curve.csv");
  // Rerun: the budget is spent, so only the final evaluation runs.
  r = RunProcess(command);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(ReadFile(dir + "/curve.csv") == curve);
  const std::string log = ReadFile(dir + "/logs/loop.log");
  int starts = 0;
  for (size_t at = log.find("rl-train started"); at != std::string::npos; at = log.find("rl-train started", at + 1)) {
    ++starts;
  }
  CHECK(starts == 1);

  // SIGTERM mid-run: the tools stop cleanly, the state is saved, exit 130.
  const std::string other = tmp / "other";
  std::vector<std::string> long_run = LoopCommand(other, 0);
  long_run.insert(long_run.end(), {"--minutes", "30"});
  ChildProcess loop(long_run);
  // Once the trainer trains (it publishes its step file then).
  for (int i = 0; i < 900 && !fs::exists(other + "/train/trainer.step"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  loop.Signal(SIGTERM);
  const ProcessResult stopped = loop.Wait();
  CHECK(stopped.exit_code == 130);
  CHECK(ReadFile(other + "/logs/loop.log").find("interrupted: stopping cleanly") != std::string::npos);
  CHECK(ReadFile(other + "/loop.state").find("spent_s=") != std::string::npos);
  CHECK(fs::exists(other + "/train/latest.ckpt"));  // the trainer wrote its checkpoint when stopped
  REQUIRE(RunProcess({ToolPath("rl-data"), "inspect", other + "/data"}).exit_code == 0);
}

}  // namespace
}  // namespace perpetua
