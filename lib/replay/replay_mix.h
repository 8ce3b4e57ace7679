// The training run's two buffers, QT-Opt style: the offline buffer (every shard of
// the --data directories, including shards that appear there while training)
// and the online buffer (a window of the most recent shards that arrived while
// the trainer runs, replay/shard_window.h), mixed per minibatch at a
// configured fraction. A shard can be in both: the online buffer samples the
// recent data, the offline buffer all data (a collector writing into a --data
// directory adds each shard to both). Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/shard_subset.h"
#include "data/transition_batch.h"
#include "env/env.h"
#include "replay/shard_window.h"

namespace perpetua {

// What the trainer needs from the data layer. rl-train implements it over the
// HDF5 dataset reader; unit tests implement it in memory.
class ReplayData {
 public:
  virtual ~ReplayData() = default;
  // The observation/action spec every shard must have.
  virtual const EnvSpec& spec() const = 0;
  // All shards of the --data directories (may hold 0 transitions).
  virtual TransitionSampler& offline() = 0;
  // Adds the shards that appeared in the --data directories since they were
  // opened (or last refreshed) to offline(); returns their paths. Throws
  // Error(kBadData) for an unreadable shard or one whose spec differs.
  virtual std::vector<std::string> RefreshOffline() = 0;
  // A finished shard's transitions as a sampler of their own (an online
  // buffer entry). Throws Error(kBadData) "<path>: ..." for an unreadable
  // shard or one whose spec differs from spec().
  virtual std::unique_ptr<TransitionSampler> OpenShard(const std::string& path) = 0;
};

// What a learner draws its training batches from (train/learner.h): the run
// hands every learner its ReplayMix through this interface.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // `batch_size` transitions drawn with `rng`; `online_count` (may be null)
  // receives how many came from the online buffer. Safe to call from several
  // threads, each with its own Rng. Throws Error(kBadData) when no data exists.
  // The batch's online rows are its last `online_count` rows.
  virtual TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) = 0;
  // Sample() as `request` asks (hindsight goals' future_observations, n-step
  // rows: data/transition_batch.h). A default request: Sample(). A source that
  // cannot serve a request throws Error(kBadData) (this default, for any other).
  virtual TransitionBatch SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request);
  // Transitions that have arrived in the online buffer since the run started
  // (shards re-read on resume included); 0 for a source without one.
  virtual int64_t online_received() const { return 0; }
};

// Builds the ReplayData for directories `dirs` (the shards in them that
// `subset` keeps: all but for a rank of --dist.shards disjoint). Throws
// Error(kBadData) for a missing directory, an unreadable shard or shards whose
// specs disagree.
using ReplayDataFactory =
    std::function<std::unique_ptr<ReplayData>(const std::vector<std::string>& dirs, const ShardSubset& subset)>;

// Thread-safe mixing sampler over a ReplayData.
class ReplayMix : public BatchSource {
 public:
  // `data` must outlive the mix. online_fraction in [0,1]. online_window:
  // the online buffer's size in transitions (whole shards, oldest evicted
  // first; 0 = unbounded; see ShardWindow).
  ReplayMix(ReplayData* data, double online_fraction, int64_t online_window = 0);

  // round(online_fraction * batch_size) transitions from the online buffer and
  // the rest from the offline buffer; all from one buffer when the other is
  // empty. `online_count` receives the online share. Throws Error(kBadData)
  // when both are empty. Safe to call from several threads.
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override;
  TransitionBatch SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) override;
  int64_t online_received() const override;

  // Adds a finished shard to the online window (ReplayData::OpenShard, then
  // ShardWindow::Add: the oldest shards leave it while it is over its size).
  // Returns false, changing nothing, for a shard added before. Throws
  // Error(kBadData) for a shard it cannot read (nothing changes). Thread-safe
  // (the shard is opened outside the lock: sampling goes on meanwhile); one
  // thread adds shards (the online source's).
  bool AddOnlineShard(const std::string& path);
  // ReplayData::RefreshOffline under the mix's lock; returns the new shards.
  std::vector<std::string> RefreshOffline();

  int64_t offline_size() const;
  int64_t online_size() const;
  // The online window's shards, oldest first (a checkpoint records them).
  std::vector<std::string> online_shards() const;
  // Shards evicted from the online window so far.
  int64_t online_evicted() const;

 private:
  ReplayData* data_;
  double online_fraction_;
  mutable std::mutex mutex_;
  std::unique_ptr<ShardWindow> online_;
  int64_t online_received_ = 0;
};

// Stacks batches (same keys and per-item shapes) along the first axis.
TransitionBatch ConcatBatches(const TransitionBatch& a, const TransitionBatch& b);
// ConcatBatches in place: appends b's transitions to `into` (amortised linear,
// so a batch gathered from many shards is copied once, not once per shard).
// Throws Error(kBadData) as ConcatBatches does; `into` may be partly appended then.
void AppendBatch(TransitionBatch& into, const TransitionBatch& b);

}  // namespace perpetua
