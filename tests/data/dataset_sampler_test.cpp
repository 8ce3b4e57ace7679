// DatasetSampler: correct transitions, uniformity, the memory budget,
// determinism and streaming of new shards from another thread.
#include "data/dataset_sampler.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <unistd.h>

#include "data/dataset_writer.h"
#include "data/shard_feed.h"
#include "data/episode_factory.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::TempDir;

// Writes episodes with seeds [first, first + count), lengths 1 + seed % 7, into `dir`.
std::vector<Episode> WriteEpisodes(const std::string& dir, uint64_t first, int count,
                                   int per_shard) {
  WriterOptions options;
  options.config.episodes_per_shard = per_shard;
  DatasetWriter writer(dir, options);
  std::vector<Episode> episodes;
  for (int i = 0; i < count; ++i) {
    testing::EpisodeShape shape;
    shape.steps = 1 + static_cast<int64_t>((first + i) % 7);
    shape.height = 16;
    shape.width = 16;
    episodes.push_back(testing::MakeEpisode(first + i, shape));
    writer.Add(episodes.back());
  }
  writer.Close();
  return episodes;
}

// Finds which (episode, step) a sampled action came from (actions are unique random floats).
std::map<std::pair<float, float>, std::pair<size_t, int64_t>> ActionIndex(
    const std::vector<Episode>& episodes) {
  std::map<std::pair<float, float>, std::pair<size_t, int64_t>> index;
  for (size_t e = 0; e < episodes.size(); ++e) {
    for (int64_t t = 0; t < episodes[e].num_steps(); ++t) {
      const float* a = episodes[e].actions.f32.data() + t * 2;
      index[{a[0], a[1]}] = {e, t};
    }
  }
  return index;
}

void CheckBatchAgainst(const TransitionBatch& batch, const std::vector<Episode>& episodes,
                       std::map<std::pair<size_t, int64_t>, int>* counts) {
  const auto index = ActionIndex(episodes);
  const size_t frame = 16 * 16 * 3;
  for (int64_t i = 0; i < batch.size(); ++i) {
    const float* a = batch.actions.f32.data() + i * 2;
    auto it = index.find({a[0], a[1]});
    REQUIRE(it != index.end());
    const auto [e, t] = it->second;
    const Episode& episode = episodes[e];
    CHECK(batch.rewards[static_cast<size_t>(i)] == episode.rewards[static_cast<size_t>(t)]);
    CHECK(batch.terminated[static_cast<size_t>(i)] == episode.terminated[static_cast<size_t>(t)]);
    float to_go = 0.0f;  // the episode's rewards from step t to its end
    for (int64_t k = t; k < episode.num_steps(); ++k) to_go += episode.rewards[static_cast<size_t>(k)];
    REQUIRE(batch.returns_to_go.size() == static_cast<size_t>(batch.size()));
    CHECK(batch.returns_to_go[static_cast<size_t>(i)] == doctest::Approx(to_go));
    const uint8_t* s = batch.observations.at("image").u8.data() + i * frame;
    const uint8_t* s2 = batch.next_observations.at("image").u8.data() + i * frame;
    const uint8_t* want = episode.observations.at("image").u8.data();
    CHECK(std::equal(s, s + frame, want + t * frame));
    CHECK(std::equal(s2, s2 + frame, want + (t + 1) * frame));
    CHECK(batch.observations.at("proprio").f32[static_cast<size_t>(i * 3)] ==
          episode.observations.at("proprio").f32[static_cast<size_t>(t * 3)]);
    CHECK(batch.next_observations.at("proprio").f32[static_cast<size_t>(i * 3)] ==
          episode.observations.at("proprio").f32[static_cast<size_t>((t + 1) * 3)]);
    if (counts) ++(*counts)[{e, t}];
  }
}

TEST_CASE("sampled transitions are the stored ones and uniform across shards") {
  TempDir dir;
  const auto episodes = WriteEpisodes(dir.path(), 1, 30, 7);  // 5 shards, lengths 1..7
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{});
  const int64_t total = sampler.num_transitions();
  int64_t expected_total = 0;
  for (const auto& e : episodes) expected_total += e.num_steps();
  CHECK(total == expected_total);
  Rng rng(5);
  std::map<std::pair<size_t, int64_t>, int> counts;
  constexpr int kBatches = 100, kBatch = 256;
  for (int b = 0; b < kBatches; ++b) CheckBatchAgainst(sampler.Sample(kBatch, rng), episodes, &counts);
  // Every transition drawn, each about equally often (a transition in a
  // 1-step episode as often as one in a 7-step episode).
  CHECK(static_cast<int64_t>(counts.size()) == total);
  const double mean = static_cast<double>(kBatches * kBatch) / static_cast<double>(total);
  double chi2 = 0.0;
  for (const auto& [key, count] : counts) chi2 += (count - mean) * (count - mean) / mean;
  // chi-square with total-1 (~120) degrees of freedom: mean ~120, sd ~15.5.
  CHECK(chi2 < static_cast<double>(total) + 6.0 * std::sqrt(2.0 * static_cast<double>(total)));
}

TEST_CASE("a budget smaller than the data gives the same batches from disk") {
  TempDir dir;
  const auto episodes = WriteEpisodes(dir.path(), 100, 40, 10);
  DatasetSamplerConfig big;
  DatasetSamplerConfig small;
  // Decoded observations: ~4 steps * 16*16*3 bytes per episode: ~130 KiB in all.
  small.memory_budget_mb = 0.05;
  DatasetSampler in_memory({dir.path()}, big);
  DatasetSampler on_disk({dir.path()}, small);
  Rng rng_a(9), rng_b(9);
  for (int b = 0; b < 20; ++b) {
    const TransitionBatch x = in_memory.Sample(128, rng_a);
    const TransitionBatch y = on_disk.Sample(128, rng_b);
    CHECK(x.actions.f32 == y.actions.f32);
    CHECK(x.observations.at("image").u8 == y.observations.at("image").u8);
    CHECK(x.next_observations.at("image").u8 == y.next_observations.at("image").u8);
    CHECK(x.next_observations.at("proprio").f32 == y.next_observations.at("proprio").f32);
    CheckBatchAgainst(y, episodes, nullptr);
  }
  const SamplerStats stats = on_disk.stats();
  CHECK(stats.samples_from_disk > 0);
  CHECK(stats.samples_from_memory > 0);
  CHECK(stats.resident_bytes <= static_cast<int64_t>(0.05 * 1024 * 1024));
  CHECK(stats.resident_episodes < 40);
  CHECK(in_memory.stats().samples_from_disk == 0);
  CHECK(in_memory.stats().resident_episodes == 40);
}

TEST_CASE("new shards stream in from another thread while sampling") {
  TempDir dir;
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{}, std::nullopt, /*allow_empty=*/true);
  CHECK(sampler.num_transitions() == 0);
  Rng rng(1);
  CHECK_THROWS_WITH_AS(sampler.Sample(4, rng), doctest::Contains("no transitions"), Error);
  auto episodes = WriteEpisodes(dir.path(), 1, 5, 5);
  CHECK(sampler.Refresh().size() == 1);
  const int64_t first = sampler.num_transitions();
  CHECK(first > 0);
  std::atomic<bool> done{false};
  std::vector<std::string> shards;
  TempDir other;
  std::thread producer([&] {
    // Shards arrive as rl-collect would print them; AddFile runs on this thread.
    for (int round = 0; round < 4; ++round) {
      auto more = WriteEpisodes(other.path(), 100 + 10 * round, 3, 3);
      for (const auto& shard : ListShards(other.path())) sampler.AddFile(shard);
    }
    done = true;
  });
  int batches = 0;
  while (!done || batches < 5) {
    const TransitionBatch batch = sampler.Sample(32, rng);
    CHECK(batch.size() == 32);
    ++batches;
  }
  producer.join();
  CHECK(sampler.stats().episodes == 5 + 12);
  CHECK(sampler.num_transitions() > first);
  CHECK(sampler.AddFile(ListShards(other.path()).front()) == 0);  // already known
  const std::string shard = ListShards(other.path()).front();
  const std::string respelled = other.path() + "/./" + shard.substr(shard.rfind('/') + 1);
  CHECK(sampler.AddFile(respelled) == 0);  // the same file under another spelling
  CHECK(sampler.stats().episodes == 5 + 12);
}

TEST_CASE("shard subsets split a directory's shards between ranks, each exactly once, as they appear") {
  // The hash of a file name, not of its directory: the same shard on another mount goes to the same rank.
  const ShardSubset zero{0, 3}, one{1, 3}, two{2, 3};
  for (int i = 0; i < 200; ++i) {
    const std::string name = "shard-" + std::to_string(i) + ".h5";
    CHECK(zero.Keeps("/a/" + name) + one.Keeps("/a/" + name) + two.Keeps("/a/" + name) == 1);
    CHECK(one.Keeps("/a/" + name) == one.Keeps("/mnt/other/b/" + name));
  }
  int kept = 0;
  for (int i = 0; i < 300; ++i) kept += one.Keeps("shard-" + std::to_string(i) + ".h5");
  CHECK(kept > 60);  // about 100 of 300
  CHECK(kept < 140);
  CHECK(ShardSubset{}.Keeps("anything"));
  CHECK(ShardSubset{}.Describe() == "all shards");
  CHECK(one.Describe() == "shards with name hash % 3 == 1");

  TempDir dir;
  WriteEpisodes(dir.path(), 1, 24, 2);  // 12 shards
  const std::vector<std::string> first = ListShards(dir.path());
  REQUIRE(first.size() == 12);
  DatasetSampler everything({dir.path()}, DatasetSamplerConfig{});
  std::vector<std::unique_ptr<DatasetSampler>> parts;
  int64_t transitions = 0;
  for (int rank = 0; rank < 2; ++rank) {
    DatasetSamplerConfig config;
    config.subset = {rank, 2};
    parts.push_back(std::make_unique<DatasetSampler>(std::vector<std::string>{dir.path()}, config, std::nullopt,
                                                     /*allow_empty=*/true));
    CHECK(parts.back()->num_transitions() < everything.num_transitions());
    transitions += parts.back()->num_transitions();
  }
  CHECK(transitions == everything.num_transitions());  // the two subsets hold all of it, nothing twice
  // Shards written later join the rank they hash to, and only that one.
  WriteEpisodes(dir.path(), 100, 8, 2);  // 4 more shards
  std::set<std::string> added;
  for (int rank = 0; rank < 2; ++rank) {
    for (const std::string& path : parts[static_cast<size_t>(rank)]->Refresh()) {
      CHECK(ShardSubset{rank, 2}.Keeps(path));
      CHECK(added.insert(path).second);
    }
  }
  CHECK(added.size() == 4);
}

TEST_CASE("a reward offset shifts every sampled reward and each step of the returns, never the data") {
  TempDir dir;
  WriteEpisodes(dir.path(), 1, 6, 3);
  DatasetSamplerConfig shifted;
  shifted.reward_offset = 0.5;
  DatasetSampler plain({dir.path()}, DatasetSamplerConfig{}), offset({dir.path()}, shifted);
  Rng a(3), b(3);
  const TransitionBatch x = plain.Sample(64, a), y = offset.Sample(64, b);
  for (size_t i = 0; i < 64; ++i) {
    CHECK(y.rewards[i] == doctest::Approx(x.rewards[i] + 0.5));
    const double steps_to_go = (y.returns_to_go[i] - x.returns_to_go[i]) / 0.5;  // from this step to the end
    CHECK(steps_to_go == doctest::Approx(std::round(steps_to_go)).epsilon(1e-4));
    CHECK(steps_to_go > 0.999);
  }
  CHECK(DatasetSampler({dir.path()}, DatasetSamplerConfig{}).Sample(64, a).size() == 64);  // the files unchanged
  shifted.reward_offset = std::nan("");
  testing::ExpectError([&] { DatasetSampler({dir.path()}, shifted); }, ExitCode::kUsage,
                       "--dataset.reward-offset must be a finite number");
}

TEST_CASE("shard paths piped in are added and bad lines are skipped with a warning") {
  TempDir dir, other;
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{}, std::nullopt, /*allow_empty=*/true);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    ShardFeed feed([&](const std::string& path) { return sampler.AddFile(path) > 0; }, fds[0]);
    WriteEpisodes(other.path(), 1, 4, 2);
    std::string lines;
    for (const auto& shard : ListShards(other.path())) lines += shard + "\n";
    lines += other / "missing.h5\n";
    lines += ListShards(other.path()).front();  // a repeat, without a final newline
    REQUIRE(::write(fds[1], lines.data(), lines.size()) == static_cast<ssize_t>(lines.size()));
    ::close(fds[1]);
    // Wait for end of input (bounded; no timing is asserted).
    for (int i = 0; i < 1000 && !feed.finished(); ++i) ::usleep(10000);
    REQUIRE(feed.finished());
    CHECK(feed.added() == 2);
    REQUIRE(feed.rejected().size() == 1);
    CHECK(feed.rejected()[0].find("missing.h5") != std::string::npos);
  }
  ::close(fds[0]);
  CHECK(sampler.stats().episodes == 4);
}

TEST_CASE("the schema of a cell's spec selects matching data") {
  TempDir dir;
  WriteEpisodes(dir.path(), 1, 2, 2);
  EnvSpec spec;
  spec.observations = {{"image", DType::kUint8, {16, 16, 3}}, {"proprio", DType::kFloat32, {3}}};
  spec.action.low = {-1, -1};
  spec.action.high = {1, 1};
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{}, SchemaOfEnv(spec));
  CHECK(sampler.schema() == SchemaOfEnv(spec));
  spec.observations[1].shape = {4};
  CHECK_THROWS_WITH_AS(DatasetSampler({dir.path()}, DatasetSamplerConfig{}, SchemaOfEnv(spec)),
                       doctest::Contains("observation 'proprio' is float32 [3], expected float32 [4]"), Error);
}

TEST_CASE("filter keys select the train or valid episodes") {
  TempDir dir;
  WriterOptions options;
  options.config.episodes_per_shard = 30;
  options.config.valid_fraction = 0.3;
  std::set<uint64_t> all;
  {
    DatasetWriter writer(dir.path(), options);
    for (uint64_t seed = 0; seed < 30; ++seed) {
      writer.Add(testing::MakeEpisode(seed));
      all.insert(seed);
    }
  }
  std::set<uint64_t> seen;
  for (const char* key : {"train", "valid"}) {
    CAPTURE(key);
    DatasetSamplerConfig config;
    config.filter_key = key;
    DatasetSampler sampler({dir.path()}, config);
    DatasetReader reader({dir.path()}, false, nullptr, key);
    CHECK(sampler.stats().episodes == static_cast<int64_t>(reader.num_episodes()));
    CHECK(reader.num_episodes() > 0);
    CHECK(reader.num_episodes() < 30);
    for (size_t i = 0; i < reader.num_episodes(); ++i) {
      CHECK(seen.insert(reader.ReadEpisode(i).metadata.seed).second);  // train and valid are disjoint
    }
  }
  CHECK(seen == all);
  CHECK_THROWS_WITH_AS(DatasetReader({dir.path()}, false, nullptr, "test"),
                       doctest::Contains("no filter key 'test' (has: train, valid)"), Error);
}

TEST_CASE("a truncated last step is not terminal and bootstraps from the final observation") {
  TempDir dir;
  WriterOptions options;
  DatasetWriter writer(dir.path(), options);
  testing::EpisodeShape shape;
  shape.steps = 1;
  shape.height = 0;
  const Episode episode = testing::MakeEpisode(1, shape);  // odd seed: truncated
  writer.Add(episode);
  writer.Close();
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{});
  Rng rng(2);
  const TransitionBatch batch = sampler.Sample(3, rng);
  CHECK(batch.terminated == std::vector<uint8_t>{0, 0, 0});
  CHECK(batch.next_observations.at("proprio").f32[0] == episode.observations.at("proprio").f32[3]);
  // With timeout_terminal the same step is served as terminal (running out of time is a failure);
  // nothing else changes.
  DatasetSamplerConfig timeout;
  timeout.timeout_terminal = true;
  DatasetSampler terminal({dir.path()}, timeout);
  Rng same(2);
  const TransitionBatch as_terminal = terminal.Sample(3, same);
  CHECK(as_terminal.terminated == std::vector<uint8_t>{1, 1, 1});
  CHECK(as_terminal.rewards == batch.rewards);
  CHECK(as_terminal.actions.f32 == batch.actions.f32);
  // An episode that the task ended stays terminal either way, and its other steps are not.
  TempDir ended;
  DatasetWriter ended_writer(ended.path(), options);
  shape.steps = 3;
  const Episode done = testing::MakeEpisode(2, shape);  // even seed: terminated
  REQUIRE(done.terminated.back() == 1);
  ended_writer.Add(done);
  ended_writer.Close();
  DatasetSampler ended_sampler({ended.path()}, timeout);
  Rng draws(3);
  const TransitionBatch many = ended_sampler.Sample(64, draws);
  int terminal_rows = 0;
  for (uint8_t t : many.terminated) terminal_rows += t;
  CHECK(terminal_rows > 5);
  CHECK(terminal_rows < 40);
  DatasetSamplerConfig no_memory;
  no_memory.memory_budget_mb = 0.0;
  CHECK_THROWS_WITH_AS(DatasetSampler({dir.path()}, no_memory),
                       doctest::Contains("memory_budget_mb must be positive"), Error);
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

TEST_CASE("hindsight futures: a later observation of the same episode, uniform from s' to the last, from memory or disk") {
  TempDir dir;
  const auto episodes = WriteEpisodes(dir.path(), 1, 30, 7);
  const auto index = ActionIndex(episodes);
  DatasetSamplerConfig small;
  small.memory_budget_mb = 0.05;  // part of the rows read from disk
  const size_t frame = 16 * 16 * 3;
  for (const DatasetSamplerConfig& config : {DatasetSamplerConfig{}, small}) {
    DatasetSampler sampler({dir.path()}, config);
    Rng rng(3);
    std::map<int64_t, int> offsets;  // f - t for transitions of 7-step episodes at t = 0
    for (int b = 0; b < 40; ++b) {
      const TransitionBatch batch = sampler.SampleFor(256, rng, SampleRequest{{"image", "proprio"}});
      CheckBatchAgainst(batch, episodes, nullptr);
      REQUIRE(batch.future_observations.size() == 2);
      for (int64_t i = 0; i < batch.size(); ++i) {
        const float* a = batch.actions.f32.data() + i * 2;
        const auto [e, t] = index.at({a[0], a[1]});
        const Episode& episode = episodes[e];
        const uint8_t* future = batch.future_observations.at("image").u8.data() + i * frame;
        int64_t found = -1;
        for (int64_t f = t + 1; f <= episode.num_steps(); ++f) {
          const uint8_t* want = episode.observations.at("image").u8.data() + f * frame;
          if (std::equal(future, future + frame, want)) found = f;
        }
        REQUIRE(found > t);
        CHECK(batch.future_observations.at("proprio").f32[static_cast<size_t>(i * 3)] ==
              episode.observations.at("proprio").f32[static_cast<size_t>(found * 3)]);
        if (episode.num_steps() == 7 && t == 0) ++offsets[found];
      }
    }
    // From t = 0 of a 7-step episode, every observation 1..7 is drawn, none much more than another.
    CHECK(offsets.size() == 7);
    int least = 1 << 30, most = 0;
    for (const auto& [f, n] : offsets) least = std::min(least, n), most = std::max(most, n);
    CHECK(most < 3 * least);
  }
  // Without keys the draws are Sample()'s; a key the data lacks is bad data.
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{});
  Rng a(8), b(8);
  CHECK(sampler.SampleFor(64, a, {}).actions.f32 == sampler.Sample(64, b).actions.f32);
  testing::ExpectError([&] { sampler.SampleFor(4, a, SampleRequest{{"goal_image"}}); }, ExitCode::kBadData,
                       "the data has no observation 'goal_image' for hindsight goals");
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

TEST_CASE("n-step rows: the discounted sum of up to n rewards, s' n steps on, the last step's flag, from memory or disk") {
  TempDir dir;
  const auto episodes = WriteEpisodes(dir.path(), 1, 30, 7);  // lengths 1..7; odd seeds truncated, even terminated
  const auto index = ActionIndex(episodes);
  DatasetSamplerConfig small;
  small.memory_budget_mb = 0.05;  // part of the rows read from disk
  DatasetSamplerConfig offset_timeout;  // per-step offset, truncation served as terminal
  offset_timeout.reward_offset = 0.25;
  offset_timeout.timeout_terminal = true;
  const size_t frame = 16 * 16 * 3;
  SampleRequest request;
  request.n_step = 3;
  request.discount = 0.9;
  for (const DatasetSamplerConfig& config : {DatasetSamplerConfig{}, small, offset_timeout}) {
    DatasetSampler sampler({dir.path()}, config);
    Rng rng(5);
    std::set<int> spans;
    for (int b = 0; b < 10; ++b) {
      const TransitionBatch batch = sampler.SampleFor(128, rng, request);
      REQUIRE(batch.steps.size() == 128);
      for (int64_t i = 0; i < batch.size(); ++i) {
        const float* a = batch.actions.f32.data() + i * 2;
        const auto [e, t] = index.at({a[0], a[1]});
        const Episode& episode = episodes[e];
        const int64_t m = std::min<int64_t>(3, episode.num_steps() - t);
        CHECK(batch.steps[static_cast<size_t>(i)] == m);
        spans.insert(static_cast<int>(m));
        double want = 0.0;
        for (int64_t k = 0; k < m; ++k) {
          want += std::pow(0.9, k) * (episode.rewards[static_cast<size_t>(t + k)] + config.reward_offset);
        }
        CHECK(batch.rewards[static_cast<size_t>(i)] == doctest::Approx(want).epsilon(1e-6));
        const size_t last = static_cast<size_t>(t + m - 1);
        const bool terminal =
            episode.terminated[last] || (config.timeout_terminal && episode.truncated[last]);
        CHECK(batch.terminated[static_cast<size_t>(i)] == (terminal ? 1 : 0));
        const uint8_t* s = batch.observations.at("image").u8.data() + i * frame;
        const uint8_t* s2 = batch.next_observations.at("image").u8.data() + i * frame;
        const uint8_t* frames = episode.observations.at("image").u8.data();
        CHECK(std::equal(s, s + frame, frames + t * frame));
        CHECK(std::equal(s2, s2 + frame, frames + (t + m) * frame));
        CHECK(batch.next_observations.at("proprio").f32[static_cast<size_t>(i * 3)] ==
              episode.observations.at("proprio").f32[static_cast<size_t>((t + m) * 3)]);
      }
    }
    CHECK(spans == std::set<int>{1, 2, 3});  // cut short at each episode's end
  }
  // n = 1 is Sample(): the same draws and no step counts.
  DatasetSampler sampler({dir.path()}, DatasetSamplerConfig{});
  Rng a(8), b(8);
  SampleRequest one;
  one.discount = 0.5;
  const TransitionBatch plain = sampler.SampleFor(64, a, one);
  CHECK(plain.steps.empty());
  CHECK(plain.rewards == sampler.Sample(64, b).rewards);
  // Out of range: a usage error naming the bounds.
  SampleRequest zero, long_one, bad_discount;
  zero.n_step = 0;
  long_one.n_step = kMaxNStep + 1;
  bad_discount.n_step = 2;
  bad_discount.discount = 1.5;
  testing::ExpectError([&] { sampler.SampleFor(4, a, zero); }, ExitCode::kUsage,
                       "n-step returns take 1 to 100 steps, got 0");
  testing::ExpectError([&] { sampler.SampleFor(4, a, long_one); }, ExitCode::kUsage,
                       "n-step returns take 1 to 100 steps, got 101");
  testing::ExpectError([&] { sampler.SampleFor(4, a, bad_discount); }, ExitCode::kUsage,
                       "the n-step discount must be in [0, 1]");
}

}  // namespace
}  // namespace perpetua
