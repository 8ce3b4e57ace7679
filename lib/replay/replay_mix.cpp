#include "replay/replay_mix.h"

#include <cmath>

#include "common/error.h"

namespace perpetua {
namespace {

// Appends b's rows to `into` (same dtype and rank; checked).
void AppendArray(Array& into, const Array& b) {
  PERPETUA_CHECK(into.dtype == b.dtype && into.shape.size() == b.shape.size() && !into.shape.empty());
  into.shape[0] += b.shape[0];
  into.u8.insert(into.u8.end(), b.u8.begin(), b.u8.end());
  into.f32.insert(into.f32.end(), b.f32.begin(), b.f32.end());
}

void AppendMaps(std::map<std::string, Array>& into, const std::map<std::string, Array>& b) {
  for (auto& [key, array] : into) {
    auto it = b.find(key);
    if (it == b.end()) Fail(ExitCode::kBadData, "offline and online data differ: key '" + key + "' missing online");
    if (it->second.dtype != array.dtype ||
        std::vector<int64_t>(it->second.shape.begin() + 1, it->second.shape.end()) !=
            std::vector<int64_t>(array.shape.begin() + 1, array.shape.end())) {
      Fail(ExitCode::kBadData, "offline and online data differ in the shape of '" + key + "'");
    }
  }
  for (auto& [key, array] : into) AppendArray(array, b.at(key));
}

}  // namespace

void AppendBatch(TransitionBatch& into, const TransitionBatch& b) {
  if (b.size() == 0) return;
  if (into.size() == 0) {
    into = b;
    return;
  }
  if (into.actions.shape.size() != 2 || b.actions.shape != std::vector<int64_t>{b.size(), into.actions.shape[1]}) {
    Fail(ExitCode::kBadData, "offline and online data differ in the action dimension");
  }
  AppendMaps(into.observations, b.observations);
  AppendMaps(into.next_observations, b.next_observations);
  AppendMaps(into.future_observations, b.future_observations);
  AppendArray(into.actions, b.actions);
  into.rewards.insert(into.rewards.end(), b.rewards.begin(), b.rewards.end());
  into.terminated.insert(into.terminated.end(), b.terminated.begin(), b.terminated.end());
  // Steps (n-step rows): a part without them spans one step per row.
  if (!into.steps.empty() || !b.steps.empty()) {
    into.steps.resize(into.rewards.size() - b.rewards.size(), 1);
    if (b.steps.empty()) {
      into.steps.resize(into.rewards.size(), 1);
    } else {
      into.steps.insert(into.steps.end(), b.steps.begin(), b.steps.end());
    }
  }
  // Returns only when both parts have them.
  const bool returns = into.returns_to_go.size() + b.returns_to_go.size() == into.rewards.size();
  if (returns) {
    into.returns_to_go.insert(into.returns_to_go.end(), b.returns_to_go.begin(), b.returns_to_go.end());
  } else {
    into.returns_to_go.clear();
  }
}

TransitionBatch ConcatBatches(const TransitionBatch& a, const TransitionBatch& b) {
  TransitionBatch out = a;
  AppendBatch(out, b);
  return out;
}

ReplayMix::ReplayMix(ReplayData* data, double online_fraction, int64_t online_window)
    : data_(data), online_fraction_(online_fraction) {
  PERPETUA_CHECK(online_fraction >= 0.0 && online_fraction <= 1.0);
  online_ = std::make_unique<ShardWindow>([data](const std::string& path) { return data->OpenShard(path); },
                                          online_window);
}

TransitionBatch BatchSource::SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) {
  if (!request.future_keys.empty()) {
    Fail(ExitCode::kBadData, "this data source cannot serve hindsight goals (future observations)");
  }
  if (request.n_step != 1) Fail(ExitCode::kBadData, "this data source cannot serve n-step returns");
  return Sample(batch_size, rng, online_count);
}

TransitionBatch ReplayMix::Sample(int batch_size, Rng& rng, int* online_count) {
  return SampleFor(batch_size, rng, online_count, {});
}

TransitionBatch ReplayMix::SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool has_offline = data_->offline().num_transitions() > 0;
  const bool has_online = online_->num_transitions() > 0;
  if (!has_offline && !has_online) Fail(ExitCode::kBadData, "no transitions to sample from");
  int online = static_cast<int>(std::lround(online_fraction_ * batch_size));
  if (!has_online) online = 0;
  if (!has_offline) online = batch_size;
  if (online_count) *online_count = online;
  TransitionBatch offline_part, online_part;
  if (batch_size - online > 0) offline_part = data_->offline().SampleFor(batch_size - online, rng, request);
  if (online > 0) online_part = online_->SampleFor(online, rng, request);
  return ConcatBatches(offline_part, online_part);
}

bool ReplayMix::AddOnlineShard(const std::string& path) {
  // Open (and index) the shard outside the lock: sampling goes on meanwhile.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (online_->Seen(path)) return false;
  }
  std::unique_ptr<TransitionSampler> shard = data_->OpenShard(path);
  const int64_t transitions = shard->num_transitions();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!online_->Insert(path, std::move(shard))) return false;
  online_received_ += transitions;
  return true;
}

int64_t ReplayMix::online_received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return online_received_;
}

std::vector<std::string> ReplayMix::RefreshOffline() {
  std::lock_guard<std::mutex> lock(mutex_);
  return data_->RefreshOffline();
}

int64_t ReplayMix::offline_size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return data_->offline().num_transitions();
}

int64_t ReplayMix::online_size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return online_->num_transitions();
}

std::vector<std::string> ReplayMix::online_shards() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return online_->shards();
}

int64_t ReplayMix::online_evicted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return online_->evicted();
}

}  // namespace perpetua
