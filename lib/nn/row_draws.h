// Random draws with one row per batch row that agree across data-parallel
// ranks. In a run of W ranks each trains on b rows of a B = W*b batch; a
// learner's per-row noise (policy samples, CEM samples, image shifts,
// conservative actions) is drawn for all B rows from the run's generator,
// which every rank holds identically, and each rank keeps its own b rows.
// So with --dist.sampling shared, W ranks compute what one process computes
// on the whole batch (the check that data-parallel training is exact), and
// the generators stay in step whatever the sampling.
//
// The share is process-wide: the training run sets it once at start
// (one process: index 0 of 1, and these are plain draws).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace perpetua {

// This process's rows of every batch: block `index` of `count` equal blocks.
struct RowShare {
  int index = 0;
  int count = 1;
};
void SetRowShare(RowShare share);
RowShare GetRowShare();

// at::randn / at::rand / at::randint of `shape` (shape[row_dim] = this
// process's rows) on `generator`, CPU, float32 (randint: int64): this
// process's block of the draw for shape[row_dim] * count rows. With one
// process, exactly the plain draw.
torch::Tensor RowRandn(at::IntArrayRef shape, at::Generator& generator, int64_t row_dim = 0);
torch::Tensor RowRand(at::IntArrayRef shape, at::Generator& generator);
torch::Tensor RowRandint(int64_t low, int64_t high, at::IntArrayRef shape, at::Generator& generator);

}  // namespace perpetua
