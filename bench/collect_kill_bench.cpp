// SIGKILL trials of the real collector, each followed by `rl-data recover`:
// no finished episode missing, nothing unreadable (tests/support/kill_trials.h
// says exactly what is checked). The figures of the issue-12 promise
// "a SIGKILL loses at most the episode in progress".
// Usage: bench_collect_kill [TRIALS_PER_WORKER_COUNT=500] [DIR]
//   runs that many trials with 1 worker and as many with 2 (default 1,000 in
//   all) in DIR (default $TMPDIR or /tmp; removed afterwards). Exit 0 when
//   nothing is missing or unreadable, 1 otherwise. Run it `nice -n 10`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/kill_trials.h"
#include "support/test_support.h"

namespace {

void Print(const std::string& label, const perpetua::testing::CollectKillStats& s, double seconds) {
  std::printf("%-12s %7d %7d %9lld %9lld %8lld %11lld %9d", label.c_str(), s.trials, s.killed_mid_run,
              static_cast<long long>(s.episodes_checked), static_cast<long long>(s.in_flight),
              static_cast<long long>(s.missing), static_cast<long long>(s.unreadable),
              s.recover_failures);
  if (seconds > 0) std::printf(" %8.2f", seconds / std::max(1, s.trials));
  std::printf("\n");
  for (const auto& line : s.failures) std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int trials = argc > 1 ? std::atoi(argv[1]) : 500;
  if (trials < 1) {
    std::fprintf(stderr, "usage: bench_collect_kill [TRIALS_PER_WORKER_COUNT=500] [DIR]\n");
    return 2;
  }
  if (argc > 2) setenv("TMPDIR", argv[2], 1);
  bool clean = true;
  std::printf("%-12s %7s %7s %9s %9s %8s %11s %9s %8s\n", "workers", "trials", "killed",
              "episodes", "in-flight", "missing", "unreadable", "recover!0", "s/trial");
  for (const int workers : {1, 2}) {
    perpetua::testing::CollectKillStats total;
    const auto start = std::chrono::steady_clock::now();
    // Blocks of 100 trials, each printed as it ends (a long run shows progress).
    for (int done = 0, block = 0; done < trials; ++block) {
      const int n = std::min(100, trials - done);
      perpetua::testing::TempDir scratch;
      const perpetua::testing::CollectKillStats s = perpetua::testing::RunCollectKillTrials(
          n, workers, /*seed=*/1000 * workers + block, scratch.path());
      done += n;
      Print(std::to_string(workers) + " (" + std::to_string(done) + ")", s, 0.0);
      total.trials += s.trials;
      total.killed_mid_run += s.killed_mid_run;
      total.episodes_checked += s.episodes_checked;
      total.in_flight += s.in_flight;
      total.missing += s.missing;
      total.unreadable += s.unreadable;
      total.recover_failures += s.recover_failures;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Print(std::to_string(workers) + " total", total, seconds);
    clean = clean && total.missing == 0 && total.unreadable == 0 && total.recover_failures == 0;
  }
  std::printf("%s\n", clean ? "no finished episode missing, every shard verifies"
                            : "FAILED: see the lines above");
  return clean ? 0 : 1;
}
