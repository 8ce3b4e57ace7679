// The scripts under damage and SIGKILL, run for real: checkpoints written by
// rl-train and promoted by loop.sh/nightly.sh survive a kill at any instant;
// nightly.sh retires runs that diverged or whose checkpoint is damaged, and
// prunes old runs whatever their names; both scripts take whole numbers only.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "common/fs.h"
#include "support/kill_trials.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::ReadFile;
using testing::RunProcess;
using testing::SourcePath;
using testing::TempDir;
using testing::ToolPath;

const std::string kBinEnv = "PERPETUA_BIN=" + fs::path(ToolPath("rl-train")).parent_path().string();

// A loop directory as nightly.sh finds it: DIR/data (random grasps) and
// DIR/promoted.ckpt (a few steps of a tiny network).
void MakeLoopDir(const std::string& dir) {
  testing::CollectRandomGrasps(dir + "/data", 20);
  const ProcessResult r = RunProcess(testing::TinyTrainCommand(dir + "/data", dir + "/seed-run", {"--steps", "4"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  fs::copy_file(dir + "/seed-run/latest.ckpt", dir + "/promoted.ckpt");
}

std::vector<std::string> Nightly(const std::string& dir, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> command = {
      "env", kBinEnv, "bash", SourcePath("scripts/nightly.sh"), "--dir", dir, "--steps", "30",
      "--eval-episodes", "2", "--observe-time", "0", "--algo", "q", "--train-arg", "--min-transitions=32",
      "--train-arg", "--batch-size=16", "--train-arg", "--network.encoder-channels=8,16",
      "--train-arg", "--network.head-channels=16", "--train-arg", "--network.hidden=32"};
  command.insert(command.end(), extra.begin(), extra.end());
  return command;
}

std::vector<std::string> RunNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir + "/nightly")) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("a SIGKILL while rl-train saves checkpoints never leaves an unloadable latest.ckpt") {
  // A short run of bench/checkpoint_kill_bench.cpp (100 trials).
  TempDir tmp;
  testing::CollectRandomGrasps(tmp / "data", 20);
  const testing::CheckpointKillStats stats =
      testing::RunCheckpointKillTrials(/*trials=*/3, /*seed=*/5, tmp / "data", tmp / "train");
  for (const auto& line : stats.failures) MESSAGE(line);
  CHECK(stats.killed_mid_run == 3);
  CHECK(stats.checks >= 2);
  CHECK(stats.load_failures == 0);
}

TEST_CASE("a SIGKILL during promotion by loop and nightly at once never tears promoted.ckpt") {
  TempDir tmp;
  MakeLoopDir(tmp.path());
  // Two different checkpoints to promote in turns.
  const ProcessResult r = RunProcess(testing::TinyTrainCommand(tmp / "data", tmp / "seed-run",
                                                               {"--steps", "8", "--resume"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(ReadFile(tmp / "seed-run/latest.ckpt") != ReadFile(tmp / "promoted.ckpt"));
  const testing::CheckpointKillStats stats = testing::RunPromotionKillTrials(
      /*trials=*/30, /*seed=*/6, tmp / "promoted.ckpt", tmp / "seed-run/latest.ckpt",
      tmp / "promotion", /*load_every=*/15);
  for (const auto& line : stats.failures) MESSAGE(line);
  CHECK(stats.killed_mid_run == 30);
  CHECK(stats.checks >= 29);
  CHECK(stats.load_failures == 0);
}

TEST_CASE("nightly retires a run with a corrupt checkpoint and prunes only run directories") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  MakeLoopDir(dir);
  // An unfinished run whose checkpoint rotted, an old finished run, and
  // directories that are not runs (one with a newline in its name, which
  // `ls` output turned into "..", the loop directory itself).
  const std::string broken = dir + "/nightly/20200102-000000";
  fs::create_directories(broken);
  std::string bytes = ReadFile(dir + "/promoted.ckpt");
  bytes[bytes.size() / 2] = static_cast<char>(~bytes[bytes.size() / 2]);
  testing::WriteFile(broken + "/latest.ckpt", bytes);
  fs::create_directories(dir + "/nightly/20200101-000000");
  testing::WriteFile(dir + "/nightly/20200101-000000/DONE", "");
  fs::create_directories(dir + "/nightly/x\n..");
  fs::create_directories(dir + "/nightly/notes");
  const ProcessResult r = RunProcess(Nightly(dir, {"--keep", "1"}));
  CHECK_MESSAGE((r.exit_code == 0 || r.exit_code == 5), r.err);
  CHECK(r.err.find("run 20200102-000000: rl-train exited 3") != std::string::npos);
  CHECK(r.err.find("marked FAILED") != std::string::npos);
  CHECK(r.err.find("starting a fresh run") != std::string::npos);
  CHECK(IsDirectory(dir + "/data"));  // not pruned as "nightly/.."
  const std::vector<std::string> runs = RunNames(dir);
  // The fresh run is kept (newest), the two old runs are pruned, the rest is untouched.
  REQUIRE(runs.size() == 3);
  CHECK(runs[1] == "notes");
  CHECK(runs[2] == "x\n..");
  CHECK(runs[0].rfind("2020", 0) != 0);
  CHECK(fs::exists(dir + "/nightly/" + runs[0] + "/DONE"));
}

TEST_CASE("nightly marks a diverged run failed and starts afresh the next time") {
  TempDir tmp;
  const std::string dir = tmp / "run";
  MakeLoopDir(dir);
  ProcessResult r = RunProcess(Nightly(dir, {"--train-arg", "--optim.learning-rate=1e30",
                                             "--train-arg", "--optim.grad-clip=0"}));
  REQUIRE_MESSAGE(r.exit_code == 7, r.err);
  std::vector<std::string> runs = RunNames(dir);
  REQUIRE(runs.size() == 1);
  const std::string failed = dir + "/nightly/" + runs[0] + "/FAILED";
  CHECK(ReadFile(failed).rfind("diverged (rl-train exit 7): ", 0) == 0);
  CHECK(r.err.find("diverged; marked FAILED") != std::string::npos);
  r = RunProcess(Nightly(dir));
  CHECK_MESSAGE((r.exit_code == 0 || r.exit_code == 5), r.err);
  CHECK(r.err.find("--resume") == std::string::npos);  // a fresh run, from promoted.ckpt
  CHECK(r.err.find("--init " + dir + "/promoted.ckpt") != std::string::npos);
  runs = RunNames(dir);
  REQUIRE(runs.size() == 2);
  CHECK(fs::exists(dir + "/nightly/" + runs[1] + "/DONE"));
}

TEST_CASE("loop and nightly take whole numbers only, and no --train-arg or --collect-arg that sets what they set themselves") {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"loop: error: --rounds: '1.5' is not a whole number\n", {"loop.sh", "--rounds", "1.5"}},
      {"loop: error: --seed: '-1' is not a whole number\n", {"loop.sh", "--seed", "-1"}},
      {"loop: error: --round-steps: '08' is not a whole number\n", {"loop.sh", "--round-steps", "08"}},
      {"loop: error: --batch-size: '1e3' is not a whole number\n", {"loop.sh", "--batch-size", "1e3"}},
      {"loop: error: --minutes: 'soon' is not a number\n", {"loop.sh", "--minutes", "soon"}},
      {"nightly: error: --steps: '2.5' is not a whole number\n", {"nightly.sh", "--steps", "2.5"}},
      {"nightly: error: --keep: '' is not a whole number\n", {"nightly.sh", "--keep", ""}},
      {"nightly: error: --seed: '99999999999' is not a whole number\n", {"nightly.sh", "--seed", "99999999999"}},
      {"nightly: error: --min-success: '1.5' is not a number in [0, 1]\n", {"nightly.sh", "--min-success", "1.5"}},
      // A --train-arg that sets what the script sets itself: refused before any work, naming the
      // script's own flag where there is one (rl-train would refuse it only after the bootstrap).
      {"loop: error: --train-arg --batch-size: loop sets --batch-size itself; use loop's --batch-size\n",
       {"loop.sh", "--train-arg", "--batch-size=32"}},
      {"loop: error: --train-arg --steps: loop sets --steps itself; use loop's --minutes/--rounds\n",
       {"loop.sh", "--train-arg", "--sac.initial-alpha=1", "--train-arg", "--steps", "--train-arg", "10"}},
      {"loop: error: --train-arg --checkpoint-every: loop sets --checkpoint-every itself; use loop's --round-steps\n",
       {"loop.sh", "--train-arg", "--checkpoint-every=10"}},
      {"loop: error: --train-arg --out: loop sets --out itself\n", {"loop.sh", "--train-arg", "--out=elsewhere"}},
      {"nightly: error: --train-arg --seed: nightly sets --seed itself; use nightly's --seed\n",
       {"nightly.sh", "--train-arg", "--seed=3"}},
      {"nightly: error: --train-arg --resume: nightly sets --resume itself\n", {"nightly.sh", "--train-arg", "--resume"}},
      // The same for --collect-arg (rl-collect's flags that the loop sets itself).
      {"loop: error: --collect-arg --seed: loop sets --seed itself\n", {"loop.sh", "--collect-arg", "--seed=3"}},
      {"loop: error: --collect-arg --policy: loop sets --policy itself\n",
       {"loop.sh", "--collect-arg", "--exploration.random-terminate=0.5", "--collect-arg", "--policy"}},
  };
  for (const auto& [message, args] : cases) {
    CAPTURE(message);
    std::vector<std::string> command = {"env", kBinEnv, "bash", SourcePath("scripts/" + args[0]),
                                        "--dir", tmp / "run"};
    command.insert(command.end(), args.begin() + 1, args.end());
    const ProcessResult r = RunProcess(command);
    CHECK(r.exit_code == 2);
    CHECK(r.err == message);  // one line
  }
  CHECK_FALSE(fs::exists(tmp / "run"));  // nothing was created
}

}  // namespace
}  // namespace perpetua
