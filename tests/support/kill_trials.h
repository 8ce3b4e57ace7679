// SIGKILL trials of the real tools, shared by the durability tests (a few
// trials) and the bench programs that run the full counts
// (bench/collect_kill_bench.cpp, bench/checkpoint_kill_bench.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perpetua::testing {

// Figures of RunCollectKillTrials.
struct CollectKillStats {
  int trials = 0;
  int killed_mid_run = 0;       // the collector was still running when killed
  int64_t episodes_checked = 0; // episodes of the killed runs read back in full
  int64_t in_flight = 0;        // indices absent below a run's highest one, within the
                                // at most workers + 1 episodes a kill may lose
  int64_t missing = 0;          // finished episodes absent (beyond that allowance, or in a
                                // printed shard), or duplicated
  int64_t unreadable = 0;       // shards that do not verify after recovery
  int recover_failures = 0;     // `rl-data recover` exited non-zero
  std::vector<std::string> failures;  // one line per problem (the first few)
};

// Runs `trials` trials of `rl-collect --env grasp --policy random --forever
// --workers <workers>`, each SIGKILLed after a random delay (seeded by
// `seed`) and followed by `rl-data recover`; groups of 5 consecutive trials
// share one dataset directory under `scratch`, so collectors also start on
// (and recover) each other's leftovers. Each run is checked by episode
// index: its episodes carry index and run seed (seeded DeriveSeed(run seed,
// 0, index)); with 1 worker the indices read back must be a prefix with no
// gap, with several only the workers + 1 a kill may lose can be absent; every
// printed shard and every shard of the directory must verify in full.
CollectKillStats RunCollectKillTrials(int trials, int workers, uint64_t seed,
                                      const std::string& scratch);


// Figures of RunCheckpointKillTrials and RunPromotionKillTrials.
struct CheckpointKillStats {
  int trials = 0;
  int killed_mid_run = 0;  // the process was still running when killed
  int checks = 0;          // checkpoints loaded by the real loader after a kill
  int load_failures = 0;   // ...that did not load (or, for promotion, were torn)
  std::vector<std::string> failures;  // one line per problem (the first few)
};

// The small rl-train q run the checkpoint trials use: `--data data_dir --out
// out_dir`, a tiny network, a checkpoint every step, `extra` appended.
std::vector<std::string> TinyTrainCommand(const std::string& data_dir, const std::string& out_dir,
                                          const std::vector<std::string>& extra);

// Runs `trials` trials of the real `rl-train q` writing a checkpoint every
// step into `out_dir` (trials after the first resume from it), each SIGKILLed
// at a random instant (seeded by `seed`); after each kill, out_dir/latest.ckpt
// (once one exists) must load and act: `rl-eval --policy` on one episode.
CheckpointKillStats RunCheckpointKillTrials(int trials, uint64_t seed, const std::string& data_dir,
                                            const std::string& out_dir);

// Runs `trials` trials of the scripts' promotion (scripts/common.sh `promote`)
// of checkpoints `a` and `b`, in turns, over `dir`/promoted.ckpt, by two
// shells at once, one as loop.sh and one as nightly.sh would (prog=loop,
// prog=nightly), both SIGKILLed at a random instant (seeded by `seed`). After
// each kill promoted.ckpt must be byte for byte `a` or `b` (never torn or
// missing); every `load_every`-th trial it is also loaded by `rl-eval --policy`.
CheckpointKillStats RunPromotionKillTrials(int trials, uint64_t seed, const std::string& a,
                                           const std::string& b, const std::string& dir,
                                           int load_every);


// Collects `episodes` random grasp episodes into `dir` (for the training
// trials). Throws std::runtime_error with rl-collect's stderr if it fails.
void CollectRandomGrasps(const std::string& dir, int episodes);

}  // namespace perpetua::testing
