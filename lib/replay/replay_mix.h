// The training run's two buffers, QT-Opt style: the offline buffer (every shard of
// the --data directories) and the online buffer (shards that arrive while the
// trainer runs), mixed per minibatch at a configured fraction. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/transition_batch.h"
#include "env/env.h"

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
  // Shards added with AddOnlineShard (starts empty).
  virtual TransitionSampler& online() = 0;
  // Makes a finished shard's transitions sampleable in online(). Throws
  // Error(kBadData) "<path>: ..." for an unreadable shard or one whose spec
  // differs from spec(); the buffers are unchanged then.
  virtual void AddOnlineShard(const std::string& path) = 0;
};

// What a learner draws its training batches from (train/learner.h): the run
// hands every learner its ReplayMix through this interface.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // `batch_size` transitions drawn with `rng`; `online_count` (may be null)
  // receives how many came from the online buffer. Safe to call from several
  // threads, each with its own Rng. Throws Error(kBadData) when no data exists.
  virtual TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) = 0;
};

// Builds the ReplayData for directories `dirs` (every shard in them). Throws
// Error(kBadData) for a missing directory, an unreadable shard or shards whose
// specs disagree.
using ReplayDataFactory = std::function<std::unique_ptr<ReplayData>(const std::vector<std::string>& dirs)>;

// Thread-safe mixing sampler over a ReplayData.
class ReplayMix : public BatchSource {
 public:
  // `data` must outlive the mix. online_fraction in [0,1].
  ReplayMix(ReplayData* data, double online_fraction);

  // round(online_fraction * batch_size) transitions from the online buffer and
  // the rest from the offline buffer; all from one buffer when the other is
  // empty. `online_count` receives the online share. Throws Error(kBadData)
  // when both are empty. Safe to call from several threads.
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override;

  // Adds an online shard (see ReplayData::AddOnlineShard); on success records
  // its path in online_shards(). Thread-safe.
  void AddOnlineShard(const std::string& path);

  int64_t offline_size() const;
  int64_t online_size() const;
  std::vector<std::string> online_shards() const;

 private:
  ReplayData* data_;
  double online_fraction_;
  mutable std::mutex mutex_;
  std::vector<std::string> online_shards_;
};

// Stacks batches (same keys and per-item shapes) along the first axis.
TransitionBatch ConcatBatches(const TransitionBatch& a, const TransitionBatch& b);

}  // namespace perpetua
