#include "replay/shard_window.h"

#include "common/error.h"
#include "replay/replay_mix.h"

namespace perpetua {

ShardWindow::ShardWindow(Opener open, int64_t max_transitions)
    : open_(std::move(open)), max_transitions_(max_transitions) {
  PERPETUA_CHECK(max_transitions >= 0);
}

bool ShardWindow::Add(const std::string& path) {
  if (Seen(path)) return false;
  return Insert(path, open_(path));
}

bool ShardWindow::Insert(const std::string& path, std::unique_ptr<TransitionSampler> sampler) {
  PERPETUA_CHECK(sampler != nullptr);
  if (Seen(path)) return false;
  Shard shard;
  shard.path = path;
  shard.sampler = std::move(sampler);
  shard.transitions = shard.sampler->num_transitions();
  seen_.insert(path);
  total_ += shard.transitions;
  shards_.push_back(std::move(shard));
  while (max_transitions_ > 0 && total_ > max_transitions_ && shards_.size() > 1) {
    total_ -= shards_.front().transitions;
    shards_.pop_front();
    ++evicted_;
  }
  return true;
}

TransitionBatch ShardWindow::Sample(int batch_size, Rng& rng) { return SampleFor(batch_size, rng, {}); }

TransitionBatch ShardWindow::SampleFor(int batch_size, Rng& rng, const SampleRequest& request) {
  if (total_ == 0) Fail(ExitCode::kBadData, "no transitions to sample from");
  // How many of the batch's draws land in each shard (uniform over transitions).
  std::vector<int> counts(shards_.size(), 0);
  for (int i = 0; i < batch_size; ++i) {
    int64_t index = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(total_)));
    size_t s = 0;
    while (index >= shards_[s].transitions) index -= shards_[s++].transitions;
    ++counts[s];
  }
  TransitionBatch batch;
  for (size_t s = 0; s < shards_.size(); ++s) {
    if (counts[s] > 0) AppendBatch(batch, shards_[s].sampler->SampleFor(counts[s], rng, request));
  }
  return batch;
}

std::vector<std::string> ShardWindow::shards() const {
  std::vector<std::string> paths;
  for (const Shard& shard : shards_) paths.push_back(shard.path);
  return paths;
}

}  // namespace perpetua
