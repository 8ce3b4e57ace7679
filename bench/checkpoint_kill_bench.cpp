// SIGKILL at random instants while checkpoints are written, against the
// promise "a SIGKILL never corrupts a checkpoint":
//   1. the real rl-train q saving a checkpoint every step (resuming from it
//      trial after trial), killed; latest.ckpt must load and act (rl-eval);
//   2. the scripts' promotion (scripts/common.sh promote, as loop.sh and
//      nightly.sh run it, both at once on one promoted.ckpt), killed;
//      promoted.ckpt must be one of the two checkpoints, byte for byte, and
//      load (rl-eval, every 10th trial).
// tests/support/kill_trials.h says exactly what is checked.
// Usage: bench_checkpoint_kill [TRIALS=100] [DIR]   (DIR: scratch, default
// $TMPDIR or /tmp; removed afterwards). Exit 0 when every check passed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/kill_trials.h"
#include "support/test_support.h"

namespace {

using perpetua::testing::CheckpointKillStats;

void Print(const char* what, const CheckpointKillStats& s, double seconds) {
  std::printf("%-34s %7d %7d %7d %13d %8.2f\n", what, s.trials, s.killed_mid_run, s.checks,
              s.load_failures, seconds / std::max(1, s.trials));
  for (const auto& line : s.failures) std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  namespace t = perpetua::testing;
  const int trials = argc > 1 ? std::atoi(argv[1]) : 100;
  if (trials < 2) {
    std::fprintf(stderr, "usage: bench_checkpoint_kill [TRIALS=100] [DIR]\n");
    return 2;
  }
  if (argc > 2) setenv("TMPDIR", argv[2], 1);
  t::TempDir scratch;
  t::CollectRandomGrasps(scratch / "data", 30);
  std::printf("%-34s %7s %7s %7s %13s %8s\n", "trials of", "trials", "killed", "loaded",
              "failed/torn", "s/trial");
  auto start = std::chrono::steady_clock::now();
  CheckpointKillStats first = t::RunCheckpointKillTrials(trials / 2, 1, scratch / "data", scratch / "train");
  std::filesystem::copy_file(scratch / "train/latest.ckpt", scratch / "a.ckpt");
  CheckpointKillStats second =
      t::RunCheckpointKillTrials(trials - trials / 2, 2, scratch / "data", scratch / "train");
  std::filesystem::copy_file(scratch / "train/latest.ckpt", scratch / "b.ckpt");
  first.trials += second.trials;
  first.killed_mid_run += second.killed_mid_run;
  first.checks += second.checks;
  first.load_failures += second.load_failures;
  first.failures.insert(first.failures.end(), second.failures.begin(), second.failures.end());
  Print("rl-train saving every step", first, Since(start));
  start = std::chrono::steady_clock::now();
  const CheckpointKillStats promotion = t::RunPromotionKillTrials(
      trials, 3, scratch / "a.ckpt", scratch / "b.ckpt", scratch.path(), /*load_every=*/10);
  Print("promotion (loop + nightly at once)", promotion, Since(start));
  const bool clean = first.load_failures == 0 && promotion.load_failures == 0;
  std::printf("%s\n", clean ? "every checkpoint loaded after every kill" : "FAILED: see above");
  return clean ? 0 : 1;
}
