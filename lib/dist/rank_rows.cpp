#include "dist/rank_rows.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace perpetua {
namespace {

Array SliceArray(const Array& array, int64_t begin, int64_t count) {
  PERPETUA_CHECK(!array.shape.empty() && begin >= 0 && begin + count <= array.shape[0]);
  Array out;
  out.dtype = array.dtype;
  out.shape = array.shape;
  out.shape[0] = count;
  const int64_t row = array.shape[0] > 0 ? array.NumElements() / array.shape[0] : 0;
  if (array.dtype == DType::kUint8) {
    out.u8.assign(array.u8.begin() + begin * row, array.u8.begin() + (begin + count) * row);
  } else {
    out.f32.assign(array.f32.begin() + begin * row, array.f32.begin() + (begin + count) * row);
  }
  return out;
}

std::map<std::string, Array> SliceMap(const std::map<std::string, Array>& arrays, int64_t begin, int64_t count) {
  std::map<std::string, Array> out;
  for (const auto& [key, array] : arrays) out[key] = SliceArray(array, begin, count);
  return out;
}

}  // namespace

TransitionBatch SliceRows(const TransitionBatch& batch, int64_t begin, int64_t count) {
  PERPETUA_CHECK(begin >= 0 && count >= 0 && begin + count <= batch.size());
  TransitionBatch out;
  out.observations = SliceMap(batch.observations, begin, count);
  out.next_observations = SliceMap(batch.next_observations, begin, count);
  out.future_observations = SliceMap(batch.future_observations, begin, count);
  out.actions = SliceArray(batch.actions, begin, count);
  out.rewards.assign(batch.rewards.begin() + begin, batch.rewards.begin() + begin + count);
  out.terminated.assign(batch.terminated.begin() + begin, batch.terminated.begin() + begin + count);
  if (!batch.steps.empty()) out.steps.assign(batch.steps.begin() + begin, batch.steps.begin() + begin + count);
  if (!batch.returns_to_go.empty()) {
    out.returns_to_go.assign(batch.returns_to_go.begin() + begin, batch.returns_to_go.begin() + begin + count);
  }
  return out;
}

RankRowsSource::RankRowsSource(BatchSource* inner, int rank, int world_size)
    : inner_(inner), rank_(rank), world_size_(world_size) {
  PERPETUA_CHECK(inner && world_size >= 1 && rank >= 0 && rank < world_size);
}

TransitionBatch RankRowsSource::Take(TransitionBatch whole, int batch_size, int online, int* online_count) const {
  // The whole batch's online rows are its last `online`; count those in this block.
  const int64_t begin = static_cast<int64_t>(rank_) * batch_size, end = begin + batch_size;
  const int64_t first_online = whole.size() - online;
  if (online_count) *online_count = static_cast<int>(std::max<int64_t>(0, end - std::max(begin, first_online)));
  return SliceRows(whole, begin, batch_size);
}

TransitionBatch RankRowsSource::Sample(int batch_size, Rng& rng, int* online_count) {
  int online = 0;
  TransitionBatch whole = inner_->Sample(batch_size * world_size_, rng, &online);
  return Take(std::move(whole), batch_size, online, online_count);
}

TransitionBatch RankRowsSource::SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) {
  int online = 0;
  TransitionBatch whole = inner_->SampleFor(batch_size * world_size_, rng, &online, request);
  return Take(std::move(whole), batch_size, online, online_count);
}

}  // namespace perpetua
