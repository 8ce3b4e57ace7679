#include "support/kill_trials.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/rng.h"
#include "data/dataset_reader.h"
#include "data/shard_verify.h"
#include "support/test_support.h"

namespace perpetua::testing {
namespace {

constexpr int kTrialsPerDirectory = 5;

// Waits (up to 30 s) until a live writer's staging folder exists in `dir`
// or the collector has ended.
void WaitForWriter(const std::string& dir, ChildProcess& collector) {
  namespace fs = std::filesystem;
  for (int i = 0; i < 3000; ++i) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir + "/.staging", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() < 4 || name.compare(name.size() - 4, 4, ".new") != 0) return;
    }
    if (::kill(collector.pid(), 0) != 0) return;
    ::usleep(10000);
  }
}

void Note(CollectKillStats& stats, const std::string& line) {
  if (stats.failures.size() < 20) stats.failures.push_back(line);
}

// Checks the shards of `dir` not verified yet and the episodes of run `run_seed`.
void CheckRun(const std::string& dir, uint64_t run_seed, int workers,
              const std::vector<std::string>& printed, std::set<std::string>& verified,
              CollectKillStats& stats) {
  const std::string context = dir + " run " + std::to_string(run_seed);
  for (const std::string& shard : printed) {
    if (!IsRegularFile(shard)) {
      ++stats.missing;
      Note(stats, context + ": printed shard missing: " + shard);
    }
  }
  std::vector<std::string> readable;
  for (const std::string& shard : ListShards(dir)) {
    if (verified.count(shard)) {
      readable.push_back(shard);
      continue;
    }
    try {
      VerifyPerpetuaFile(shard);
      verified.insert(shard);
      readable.push_back(shard);
    } catch (const Error& e) {
      ++stats.unreadable;
      Note(stats, context + ": " + e.what());
    }
  }
  if (readable.empty()) return;
  std::map<int64_t, int> indices;  // index -> count, of this run
  DatasetReader reader(readable);
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const Episode episode = reader.ReadEpisode(i);
    const nlohmann::json extra = nlohmann::json::parse(episode.metadata.extra_json);
    if (extra.value("run_seed", uint64_t{0}) != run_seed) continue;
    const int64_t index = extra.at("index").get<int64_t>();
    ++stats.episodes_checked;
    ++indices[index];
    if (episode.metadata.seed != DeriveSeed(run_seed, 0, static_cast<uint64_t>(index))) {
      ++stats.missing;
      Note(stats, context + ": episode " + std::to_string(index) + " has another episode's seed");
    }
  }
  if (indices.empty()) return;
  int64_t absent = 0;
  for (int64_t index = 0; index < indices.rbegin()->first; ++index) {
    if (!indices.count(index)) ++absent;
  }
  for (const auto& [index, count] : indices) {
    if (count > 1) {
      stats.missing += count - 1;
      Note(stats, context + ": episode " + std::to_string(index) + " read back " +
                      std::to_string(count) + " times");
    }
  }
  // Below the highest index, only episodes in flight at the kill may be absent:
  // with one worker none (they are all above it), with W up to W + 1.
  const int64_t allowed = workers == 1 ? 0 : workers + 1;
  stats.in_flight += std::min(absent, allowed);
  if (absent > allowed) {
    stats.missing += absent - allowed;
    Note(stats, context + ": " + std::to_string(absent) + " indices absent below " +
                    std::to_string(indices.rbegin()->first));
  }
}

}  // namespace

CollectKillStats RunCollectKillTrials(int trials, int workers, uint64_t seed,
                                      const std::string& scratch) {
  CollectKillStats stats;
  Rng rng(seed);
  std::string dir;
  std::set<std::string> verified;
  for (int trial = 0; trial < trials; ++trial) {
    if (trial % kTrialsPerDirectory == 0) {
      dir = scratch + "/d" + std::to_string(trial / kTrialsPerDirectory);
      verified.clear();
    }
    const uint64_t run_seed = seed * 100000 + static_cast<uint64_t>(trial) + 1;
    const int per_shard = std::vector<int>{1, 3, 8}[rng.UniformInt(3)];
    ProcessResult killed;
    {
      ChildProcess collector({ToolPath("rl-collect"), "--env", "grasp", "--policy", "random",
                              "--forever", "--workers", std::to_string(workers), "--out", dir,
                              "--seed", std::to_string(run_seed), "--dataset.episodes-per-shard",
                              std::to_string(per_shard)});
      // One trial in five dies at any instant of the start (loading the cell,
      // recovering leftovers); the others once the writer exists, up to a few
      // shards in.
      if (rng.UniformInt(5) == 0) {
        ::usleep(static_cast<useconds_t>(rng.UniformInt(2000000)));
      } else {
        WaitForWriter(dir, collector);  // then about 1 s to the first episode
        ::usleep(static_cast<useconds_t>(300000 + rng.UniformInt(1700000)));
      }
      collector.Signal(SIGKILL);
      killed = collector.Wait();
    }
    ++stats.trials;
    if (killed.signal == SIGKILL) ++stats.killed_mid_run;
    if (!IsDirectory(dir)) continue;  // killed before it created the directory
    const ProcessResult recover = RunProcess({ToolPath("rl-data"), "recover", dir});
    if (recover.exit_code != 0) {
      ++stats.recover_failures;
      Note(stats, dir + ": rl-data recover exited " + std::to_string(recover.exit_code) + ": " +
                      recover.err);
    }
    CheckRun(dir, run_seed, workers, Lines(killed.out), verified, stats);
  }
  return stats;
}

namespace {

void Note(CheckpointKillStats& stats, const std::string& line) {
  if (stats.failures.size() < 20) stats.failures.push_back(line);
}

// Loads `checkpoint` with the real loader and runs one episode; "" or the problem.
std::string LoadProblem(const std::string& checkpoint) {
  const ProcessResult r = RunProcess({ToolPath("rl-eval"), "--env", "grasp", "--policy", checkpoint,
                                      "--episodes", "1"});
  return r.exit_code == 0 ? "" : checkpoint + ": rl-eval exited " + std::to_string(r.exit_code) + ": " + r.err;
}

}  // namespace

std::vector<std::string> TinyTrainCommand(const std::string& data_dir, const std::string& out_dir,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> command = {
      ToolPath("rl-train"), "q", "--data", data_dir, "--out", out_dir, "--batch-size", "16",
      "--min-transitions=32", "--checkpoint-every=1", "--network.encoder-channels=8,16",
      "--network.head-channels=16", "--network.hidden=32"};
  command.insert(command.end(), extra.begin(), extra.end());
  return command;
}

CheckpointKillStats RunCheckpointKillTrials(int trials, uint64_t seed, const std::string& data_dir,
                                            const std::string& out_dir) {
  CheckpointKillStats stats;
  Rng rng(seed);
  const std::string latest = out_dir + "/latest.ckpt";
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<std::string> extra = {"--steps", "1000000"};
    if (IsRegularFile(latest)) extra.push_back("--resume");
    {
      ChildProcess trainer(TinyTrainCommand(data_dir, out_dir, extra));
      // Past the start (LibTorch, the data) into the steps, each one saved.
      ::usleep(static_cast<useconds_t>(1500000 + rng.UniformInt(2500000)));
      trainer.Signal(SIGKILL);
      const ProcessResult killed = trainer.Wait();
      if (killed.signal == SIGKILL) ++stats.killed_mid_run;
      if (killed.signal != SIGKILL) Note(stats, "rl-train ended before the kill: " + killed.err);
    }
    ++stats.trials;
    if (!IsRegularFile(latest)) continue;
    ++stats.checks;
    const std::string problem = LoadProblem(latest);
    if (!problem.empty()) {
      ++stats.load_failures;
      Note(stats, "trial " + std::to_string(trial) + ": " + problem);
    }
  }
  return stats;
}

CheckpointKillStats RunPromotionKillTrials(int trials, uint64_t seed, const std::string& a,
                                           const std::string& b, const std::string& dir,
                                           int load_every) {
  CheckpointKillStats stats;
  Rng rng(seed);
  EnsureWritableDirectory(dir);
  const std::string promoted = dir + "/promoted.ckpt";
  const std::string bytes_a = ReadFile(a), bytes_b = ReadFile(b);
  const auto shell = [&](const std::string& prog, const std::string& first, const std::string& second) {
    return std::vector<std::string>{
        "bash", "-c",
        "set -u; prog=" + prog + "; . \"$1\"; clean_temporaries \"$4\"; "
        "while :; do promote \"$2\" \"$4\" || exit; promote \"$3\" \"$4\" || exit; done",
        "promote", SourcePath("scripts/common.sh"), first, second, promoted};
  };
  for (int trial = 0; trial < trials; ++trial) {
    {
      ChildProcess loop(shell("loop", a, b));
      ChildProcess nightly(shell("nightly", b, a));
      ::usleep(static_cast<useconds_t>(20000 + rng.UniformInt(200000)));
      loop.Signal(SIGKILL);
      nightly.Signal(SIGKILL);
      const ProcessResult first = loop.Wait(), second = nightly.Wait();
      if (first.signal == SIGKILL && second.signal == SIGKILL) ++stats.killed_mid_run;
      if (first.signal != SIGKILL || second.signal != SIGKILL) {
        Note(stats, "a promoting shell ended before the kill: " + first.err + second.err);
      }
    }
    ++stats.trials;
    if (trial == 0 && !IsRegularFile(promoted)) continue;  // killed before the first rename
    ++stats.checks;
    const std::string got = ReadFile(promoted);
    if (got != bytes_a && got != bytes_b) {
      ++stats.load_failures;
      Note(stats, "trial " + std::to_string(trial) + ": " + promoted + " is torn (" +
                      std::to_string(got.size()) + " bytes)");
    } else if (load_every > 0 && trial % load_every == 0) {
      const std::string problem = LoadProblem(promoted);
      if (!problem.empty()) {
        ++stats.load_failures;
        Note(stats, "trial " + std::to_string(trial) + ": " + problem);
      }
    }
  }
  return stats;
}


void CollectRandomGrasps(const std::string& dir, int episodes) {
  const ProcessResult r = RunProcess({ToolPath("rl-collect"), "--env", "grasp", "--policy", "random",
                                      "--episodes", std::to_string(episodes), "--out", dir});
  if (r.exit_code != 0) throw std::runtime_error("rl-collect failed: " + r.err);
}

}  // namespace perpetua::testing
