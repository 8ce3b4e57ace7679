// --dist.sampling shared: every rank draws the whole batch with the same
// stream and keeps its own block of rows, so W ranks train on exactly the
// rows one process would (the exactness check of data-parallel training;
// it costs W times the sampling). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/transition_batch.h"
#include "replay/replay_mix.h"

namespace perpetua {

// Rows [begin, begin + count) of `batch` (every field, future observations too).
TransitionBatch SliceRows(const TransitionBatch& batch, int64_t begin, int64_t count);

class RankRowsSource : public BatchSource {
 public:
  // `inner` outlives this; rank in [0, world_size).
  RankRowsSource(BatchSource* inner, int rank, int world_size);
  // Draws batch_size * world_size rows from the inner source and returns
  // this rank's block; online_count counts the block's online rows.
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override;
  TransitionBatch SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) override;
  int64_t online_received() const override { return inner_->online_received(); }

 private:
  TransitionBatch Take(TransitionBatch whole, int batch_size, int online, int* online_count) const;
  BatchSource* inner_;
  int rank_, world_size_;
};

}  // namespace perpetua
