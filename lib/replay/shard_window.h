// ShardWindow: the online buffer as a recent window of whole shards (FIFO),
// QT-Opt style: the online buffer holds what the latest policies collected,
// the offline buffer (DatasetReplay's, every shard of --data) holds everything.
//
//   ShardWindow window(open_shard, /*max_transitions=*/20000);
//   window.Add(path);            // opens the shard; evicts the oldest while over the limit
//   window.Sample(64, rng);      // uniform over the window's transitions
//
// Eviction: after a shard is added, the oldest shards are dropped, whole and
// in arrival order, while the window holds more than `max_transitions`; the
// newest shard always stays (so a shard larger than the limit is the whole
// window). max_transitions 0: unbounded (nothing is evicted).
//
// No shard twice: a path already added in this window's life (in the window
// or evicted from it) is refused by Add (returns false, nothing changes).
// An evicted shard stays on disk and in the offline buffer.
//
// Memory: a shard's sampler (and its cache of decoded observations) is freed
// when the shard is evicted.
//
// Not thread-safe: ReplayMix serialises Add and Sample. Torch-free.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "data/transition_batch.h"

namespace perpetua {

class ShardWindow : public TransitionSampler {
 public:
  // Opens one shard as a sampler over its transitions. Throws (e.g.
  // Error(kBadData)) for a shard it cannot use; the window is unchanged then.
  using Opener = std::function<std::unique_ptr<TransitionSampler>(const std::string& path)>;

  // max_transitions >= 0 (0: unbounded).
  ShardWindow(Opener open, int64_t max_transitions);

  // Adds the finished shard at `path` (newest), then evicts as above.
  // Returns false, changing nothing, for a path added before. Throws what
  // the opener throws.
  bool Add(const std::string& path);
  // Add with the shard opened by the caller (e.g. outside a lock); `sampler`
  // is dropped if `path` was added before.
  bool Insert(const std::string& path, std::unique_ptr<TransitionSampler> sampler);
  // Whether `path` was added before (in the window or evicted from it).
  bool Seen(const std::string& path) const { return seen_.count(path) > 0; }

  int64_t num_transitions() const override { return total_; }
  // `batch_size` transitions drawn uniformly over every transition in the
  // window (with replacement): each draw picks a transition index, then each
  // shard samples its share. Error(kBadData) when the window is empty.
  TransitionBatch Sample(int batch_size, Rng& rng) override;
  TransitionBatch SampleFor(int batch_size, Rng& rng, const SampleRequest& request) override;

  // The window's shards, oldest first.
  std::vector<std::string> shards() const;
  // Shards evicted so far.
  int64_t evicted() const { return evicted_; }
  int64_t max_transitions() const { return max_transitions_; }

 private:
  struct Shard {
    std::string path;
    std::unique_ptr<TransitionSampler> sampler;
    int64_t transitions = 0;  // at Add (a finished shard does not grow)
  };

  Opener open_;
  int64_t max_transitions_;
  std::deque<Shard> shards_;
  std::set<std::string> seen_;  // every path ever added
  int64_t total_ = 0;
  int64_t evicted_ = 0;
};

}  // namespace perpetua
