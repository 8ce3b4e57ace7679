#include "nn/row_draws.h"

#include <atomic>
#include <vector>

namespace perpetua {
namespace {

std::atomic<int> share_index{0}, share_count{1};

template <class Draw>
torch::Tensor Rows(at::IntArrayRef shape, Draw draw, int64_t row_dim = 0) {
  const RowShare share = GetRowShare();
  if (share.count == 1 || shape.empty()) return draw(shape);
  std::vector<int64_t> whole(shape.begin(), shape.end());
  whole[row_dim] *= share.count;
  return draw(whole).narrow(row_dim, shape[row_dim] * share.index, shape[row_dim]).contiguous();
}

}  // namespace

void SetRowShare(RowShare share) {
  share_index = share.index;
  share_count = share.count;
}

RowShare GetRowShare() { return {share_index.load(), share_count.load()}; }

torch::Tensor RowRandn(at::IntArrayRef shape, at::Generator& generator, int64_t row_dim) {
  return Rows(shape, [&](at::IntArrayRef s) { return at::randn(s, generator, torch::kFloat32); }, row_dim);
}

torch::Tensor RowRand(at::IntArrayRef shape, at::Generator& generator) {
  return Rows(shape, [&](at::IntArrayRef s) { return at::rand(s, generator, torch::kFloat32); });
}

torch::Tensor RowRandint(int64_t low, int64_t high, at::IntArrayRef shape, at::Generator& generator) {
  return Rows(shape, [&](at::IntArrayRef s) { return at::randint(low, high, s, generator, torch::kLong); });
}

}  // namespace perpetua
