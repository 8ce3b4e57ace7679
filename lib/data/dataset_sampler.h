// DatasetSampler: uniform random transitions (s, a, r, s', terminated) from
// datasets on disk, within a memory budget, while new shards stream in.
//
// Memory. Per-step scalars (actions, rewards, flags: 4A + 6 bytes per step)
// are always resident and count toward `memory_budget_mb`; so does every
// decoded episode. Observations are decoded per episode on first use and
// kept while the total stays within the budget; an episode touched once the
// budget is full is not loaded: its transition's two observation rows are
// read straight from the file (one two-row read, one or two chunks). With
// uniform sampling every cache of M bytes over D bytes of data hits M/D of
// the time whatever it evicts, so nothing is evicted: no decode churn. The
// index costs about 100 bytes per episode more (paths are shared per file).
//
// Opening (and AddFile) reads and checks every episode's scalars up front
// (finite actions and rewards; about 0.4 ms per episode with the index), so
// a corrupt value stops a trainer at start, not hours into training.
//
// Sampling draws a transition index uniformly over all transitions (with
// replacement), so every transition of every episode and shard has the same
// probability. Same data, same seed -> same batch, wherever the rows came from.
// Transition t of an episode of N steps: s = obs[t], s' = obs[t+1] (for
// t = N-1 the observation after the last action), terminated[t] as stored
// (a truncated last step is not terminal: learners bootstrap from s').
// With n-step returns asked (SampleRequest::n_step = n), transition t spans
// m = min(n, N - t) steps: s' = obs[t+m], the reward the discounted sum of
// rewards t..t+m-1 (each plus reward_offset), terminated the flag of step
// t+m-1, and TransitionBatch::steps holds m.
//
// Threads: Sample(), AddFile() and Refresh() may be called from different
// threads (one mutex; AddFile holds it while indexing the new file, a few ms).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/dataset_reader.h"
#include "data/transition_batch.h"
#include "env/env.h"

namespace perpetua {

// The schema a cell's data has: its observation specs and action size. Pass
// it as `expected` so that a sampler refuses data from another cell.
Schema SchemaOfEnv(const EnvSpec& spec);

struct DatasetSamplerConfig {
  double memory_budget_mb = 4096.0;  // decoded observations kept in memory (MiB)
  std::string filter_key;            // only episodes in each file's mask/<key> ("" = all)
  // A step that ended its episode at the time limit (truncated) is served as
  // terminal: no bootstrap from s'. For a task whose time limit is part of it
  // (a grasp not made in 20 steps failed) while the observation does not show
  // the time left, so that running out the clock is a failure the learner
  // sees. false: truncation bootstraps (the limit is not part of the task).
  bool timeout_terminal = false;
  // Added to every stored reward as it is sampled (the data on disk is never
  // changed), and per step to the returns-to-go. On grasp, +0.02 cancels the
  // cell's step penalty: a learner that rates its grasps poorly then gains
  // nothing by ending the episode at once (which the penalty rewards).
  double reward_offset = 0.0;
  // Not a flag: the share of the directories' shards this sampler reads (a
  // rank's, rl-train --dist.shards disjoint; data/shard_subset.h).
  ShardSubset subset;

  void Visit(ConfigVisitor& v) {
    v.Field("memory_budget_mb", memory_budget_mb,
            "decoded observations kept in memory, MiB (the rest is read from disk per sample)");
    v.Field("filter_key", filter_key,
            "only episodes listed in each file's mask/<key>, e.g. train or valid (empty: all)");
    v.Field("timeout_terminal", timeout_terminal,
            "serve time-limit (truncated) steps as terminal: running out of time is a failure, not bootstrapped");
    v.Field("reward_offset", reward_offset,
            "added to every stored reward as it is sampled (data on disk unchanged); grasp: 0.02 cancels the step "
            "penalty");
  }
};

// Counters for benchmarks and logs.
struct SamplerStats {
  int64_t resident_bytes = 0;       // decoded observations + scalars in memory
  int64_t resident_episodes = 0;
  int64_t episodes = 0;
  int64_t samples_from_memory = 0;  // transitions served from resident episodes
  int64_t samples_from_disk = 0;    // transitions read from files
};

class DatasetSampler : public TransitionSampler {
 public:
  // Opens `paths` as DatasetReader does (allow_empty: see there). If
  // `expected` is given, every episode must match it (keys, dtypes, per-step
  // shapes, action size), else Error(kBadData) naming the file and the first
  // difference; without it the first file fixes the schema.
  // Error(kUsage) if the budget is not positive.
  DatasetSampler(const std::vector<std::string>& paths, DatasetSamplerConfig config,
                 std::optional<Schema> expected = std::nullopt, bool allow_empty = false);
  ~DatasetSampler() override;

  int64_t num_transitions() const override;
  // See the file comment. Error(kBadData) if nothing is available or a read fails.
  TransitionBatch Sample(int batch_size, Rng& rng) override;
  // Sample() plus, per row, one observation drawn uniformly from obs[t+1] to the
  // episode's last for each of request.future_keys (transition_batch.h;
  // Error(kBadData) for a key the data lacks), with n-step rows as asked (the
  // file comment). Error(kUsage) for an n_step or discount out of range.
  TransitionBatch SampleFor(int batch_size, Rng& rng, const SampleRequest& request) override;

  // Adds a newly finished file (e.g. a path rl-collect printed). Returns
  // episodes added (0 if already known). Error(kBadData) on a schema mismatch
  // (the file is then not added).
  size_t AddFile(const std::string& path);
  // Adds shards that appeared in the directories given at construction.
  std::vector<std::string> Refresh();

  // The schema every episode matches (valid once an episode is known).
  Schema schema() const;
  SamplerStats stats() const;

 private:
  struct EpisodeData;
  void IndexNewEpisodes(size_t first);  // mutex held
  // Transition t of `e` spanning m steps (n-step; m = 1: one step) into row `row`.
  void CopyTransition(EpisodeData& e, int64_t t, int64_t m, double discount, int64_t row, TransitionBatch& batch);
  // Observation f of `e` for `key` into future_observations row `row` (mutex held, after CopyTransition).
  void CopyFuture(EpisodeData& e, const std::string& key, int64_t f, int64_t row, TransitionBatch& batch);

  mutable std::mutex mutex_;
  DatasetSamplerConfig config_;
  std::optional<Schema> expected_;
  DatasetReader reader_;
  std::vector<std::unique_ptr<EpisodeData>> episodes_;
  std::vector<int64_t> cumulative_;  // cumulative_[i] = transitions in episodes [0, i]
  int64_t budget_bytes_ = 0;
  SamplerStats stats_;
};

}  // namespace perpetua
