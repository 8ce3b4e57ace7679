// The online buffer as a recent window of whole shards: eviction oldest
// first, never a shard twice, uniform sampling over the window; and the same
// through ReplayMix over real shards, where evicted shards stay reachable in
// the offline buffer and shards that appear in --data join it on refresh.
#include "replay/shard_window.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset_reader.h"
#include "data/dataset_writer.h"
#include "data/episode_factory.h"
#include "replay/dataset_replay.h"
#include "replay/replay_mix.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

// A shard of `n` transitions whose sampled rewards all equal `id`.
class FakeShard : public TransitionSampler {
 public:
  FakeShard(int64_t n, float id) : n_(n), id_(id) {}
  int64_t num_transitions() const override { return n_; }
  TransitionBatch Sample(int batch_size, Rng&) override {
    TransitionBatch b;
    b.actions = Array::Zeros(DType::kFloat32, {batch_size, 1});
    b.rewards.assign(static_cast<size_t>(batch_size), id_);
    b.terminated.assign(static_cast<size_t>(batch_size), 0);
    return b;
  }

 private:
  int64_t n_;
  float id_;
};

// Opens "s<k>" as a FakeShard of sizes[k] transitions (reward k); counts opens.
struct FakeOpener {
  std::map<std::string, int64_t> sizes;
  int opens = 0;
  ShardWindow::Opener opener() {
    return [this](const std::string& path) -> std::unique_ptr<TransitionSampler> {
      auto it = sizes.find(path);
      if (it == sizes.end()) Fail(ExitCode::kBadData, path + ": no such shard");
      ++opens;
      return std::make_unique<FakeShard>(it->second, std::stof(path.substr(1)));
    };
  }
};

TEST_CASE("the online window evicts whole shards, oldest first, and keeps the newest") {
  FakeOpener fake;
  fake.sizes = {{"s1", 10}, {"s2", 10}, {"s3", 5}, {"s4", 20}, {"s5", 40}};
  ShardWindow window(fake.opener(), /*max_transitions=*/25);
  CHECK(window.Add("s1"));
  CHECK(window.Add("s2"));
  CHECK(window.Add("s3"));
  CHECK(window.shards() == std::vector<std::string>{"s1", "s2", "s3"});
  CHECK(window.num_transitions() == 25);
  CHECK(window.evicted() == 0);
  CHECK(window.Add("s4"));  // 45 > 25: s1 then s2 leave (25 left)
  CHECK(window.shards() == std::vector<std::string>{"s3", "s4"});
  CHECK(window.num_transitions() == 25);
  CHECK(window.evicted() == 2);
  CHECK(window.Add("s5"));  // larger than the window alone: it is the whole window
  CHECK(window.shards() == std::vector<std::string>{"s5"});
  CHECK(window.num_transitions() == 40);
  CHECK(window.evicted() == 4);
}

TEST_CASE("the online window never holds a shard twice, evicted ones included") {
  FakeOpener fake;
  fake.sizes = {{"s1", 10}, {"s2", 10}, {"s3", 10}};
  ShardWindow window(fake.opener(), /*max_transitions=*/20);
  CHECK(window.Add("s1"));
  CHECK_FALSE(window.Add("s1"));
  CHECK(window.Add("s2"));
  CHECK(window.Add("s3"));  // evicts s1
  CHECK_FALSE(window.Add("s1"));  // evicted: old data does not come back as recent
  CHECK_FALSE(window.Insert("s2", std::make_unique<FakeShard>(10, 2)));
  CHECK(window.shards() == std::vector<std::string>{"s2", "s3"});
  CHECK(fake.opens == 3);  // a known path is not even opened
}

TEST_CASE("an unbounded online window keeps every shard - a shard that cannot open changes nothing") {
  FakeOpener fake;
  fake.sizes = {{"s1", 1000}, {"s2", 1000}, {"s3", 1000}};
  ShardWindow window(fake.opener(), /*max_transitions=*/0);
  for (const char* s : {"s1", "s2", "s3"}) CHECK(window.Add(s));
  CHECK(window.num_transitions() == 3000);
  testing::ExpectError([&] { window.Add("s9"); }, ExitCode::kBadData, "s9: no such shard");
  CHECK(window.shards() == std::vector<std::string>{"s1", "s2", "s3"});
  CHECK(window.num_transitions() == 3000);
  CHECK_FALSE(window.Seen("s9"));  // may be retried
}

TEST_CASE("the online window samples uniformly over its transitions") {
  FakeOpener fake;
  fake.sizes = {{"s1", 100}, {"s2", 300}};
  ShardWindow window(fake.opener(), 0);
  Rng rng(7);
  testing::ExpectError([&] { window.Sample(4, rng); }, ExitCode::kBadData, "no transitions");
  window.Add("s1");
  window.Add("s2");
  int from_s2 = 0;
  const int draws = 200, batch = 50;
  for (int i = 0; i < draws; ++i) {
    const TransitionBatch b = window.Sample(batch, rng);
    REQUIRE(b.size() == batch);
    for (float r : b.rewards) from_s2 += r == 2.0f;
  }
  CHECK(from_s2 / double(draws * batch) == doctest::Approx(0.75).epsilon(0.03));
}

// Writes `episodes` 3-step episodes into `dir`, one shard per `per_shard` episodes; returns the shards.
std::vector<std::string> WriteShards(const std::string& dir, int episodes, int per_shard, uint64_t seed0) {
  WriterOptions options;
  options.config.episodes_per_shard = per_shard;
  options.config.sync = "none";
  std::vector<std::string> shards;
  DatasetWriter writer(dir, options);
  testing::EpisodeShape shape;
  shape.steps = 3;
  for (int i = 0; i < episodes; ++i) {
    const std::string shard = writer.Add(testing::MakeEpisode(seed0 + static_cast<uint64_t>(i), shape));
    if (!shard.empty()) shards.push_back(shard);
  }
  for (const auto& s : writer.Close()) shards.push_back(s);
  return shards;
}

TEST_CASE("real shards: the online window is recent, the offline buffer everything in --data") {
  testing::TempDir tmp;
  const auto old_shards = WriteShards(tmp / "data", 2, 2, 0);  // 1 shard, 6 transitions
  REQUIRE(old_shards.size() == 1);
  auto data = OpenDatasetReplay({tmp / "data"}, DatasetSamplerConfig{});
  ReplayMix mix(data.get(), 0.5, /*online_window=*/12);
  CHECK(mix.offline_size() == 6);
  // A collector writes into the --data directory and streams each shard.
  const auto fresh = WriteShards(tmp / "data", 8, 2, 100);  // 4 shards of 6 transitions
  REQUIRE(fresh.size() == 4);
  for (const auto& shard : fresh) CHECK(mix.AddOnlineShard(shard));
  CHECK_FALSE(mix.AddOnlineShard(fresh[3]));  // the same path again
  CHECK(mix.online_shards() == std::vector<std::string>{fresh[2], fresh[3]});
  CHECK(mix.online_size() == 12);
  CHECK(mix.online_evicted() == 2);
  // Every shard collected reaches the offline buffer, the evicted ones included.
  CHECK(mix.offline_size() == 6);
  const auto added = mix.RefreshOffline();
  CHECK(added.size() == 4);
  CHECK(mix.offline_size() == 30);
  CHECK(mix.RefreshOffline().empty());
  Rng rng(1);
  int online = 0;
  const TransitionBatch mixed = mix.Sample(8, rng, &online);
  CHECK(mixed.size() == 8);
  CHECK(online == 4);
  CHECK(mixed.returns_to_go.size() == 8);  // both parts carry the episodes' returns
  // A part without returns (a source that replaced the rewards): the whole batch has none.
  TransitionBatch bare = mixed;
  bare.returns_to_go.clear();
  CHECK(ConcatBatches(mixed, bare).returns_to_go.empty());
  CHECK(ConcatBatches(mixed, mixed).returns_to_go.size() == 16);
  // n-step rows through the mix: both buffers serve them; a part without step counts spans one step a row.
  SampleRequest three;
  three.n_step = 3;
  three.discount = 0.9;
  const TransitionBatch spans = mix.SampleFor(8, rng, &online, three);
  REQUIRE(spans.steps.size() == 8);
  for (uint8_t m : spans.steps) CHECK((m >= 1 && m <= 3));
  CHECK(ConcatBatches(spans, mixed).steps ==
        [&] { std::vector<uint8_t> s = spans.steps; s.resize(16, 1); return s; }());
  std::vector<uint8_t> front(8, 1);
  front.insert(front.end(), spans.steps.begin(), spans.steps.end());
  CHECK(ConcatBatches(mixed, spans).steps == front);
  CHECK(ConcatBatches(mixed, mixed).steps.empty());
  // A shard of another cell's data is refused and changes nothing.
  testing::EpisodeShape other;
  other.action_dim = 5;
  WriterOptions options;
  options.config.sync = "none";
  DatasetWriter writer(tmp / "other", options);
  writer.Add(testing::MakeEpisode(9, other));
  const auto stranger = writer.Close();
  REQUIRE(stranger.size() == 1);
  testing::ExpectError([&] { mix.AddOnlineShard(stranger[0]); }, ExitCode::kBadData, stranger[0]);
  CHECK(mix.online_shards() == std::vector<std::string>{fresh[2], fresh[3]});
}

}  // namespace
}  // namespace perpetua
