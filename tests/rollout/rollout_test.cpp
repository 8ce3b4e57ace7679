// The episode loop and the N-worker runner, on an in-memory cell.
#include "rollout/rollout.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "common/error.h"
#include "common/rng.h"
#include "rollout/toy_env.h"

namespace perpetua {
namespace {
using testing::ConstantPolicy;
using testing::ToyEnv;

// A policy whose actions depend only on the episode seed (like a well-behaved learner).
class SeededRandomPolicy : public Policy {
 public:
  void BeginEpisode(uint64_t seed) override { rng_ = Rng(seed); }
  std::vector<float> Act(const Observation&, const nlohmann::json&) override {
    return {static_cast<float>(rng_.Uniform(-0.2, 0.6)), static_cast<float>(rng_.Uniform(-2, 2))};
  }
  std::string id() const override { return "seeded-random"; }

 private:
  Rng rng_;
};

const auto kNever = [] { return false; };

TEST_CASE("an episode is assembled with the final observation and metadata") {
  ToyEnv env;
  ConstantPolicy policy(0.4f);
  EpisodeOptions options;
  options.record_key = "image";
  auto result = RunEpisode(env, policy, /*seed=*/3, {{"object_ids", {7, 8}}}, options, kNever);
  REQUIRE(result);
  const Episode& episode = result->episode;
  CHECK(episode.num_steps() == 4);  // -0.5 + 4 x 0.4 >= 1
  CHECK(episode.actions.shape == std::vector<int64_t>{4, 2});
  CHECK(episode.observations.at("image").shape == std::vector<int64_t>{5, 4, 4, 3});
  CHECK(episode.observations.at("proprio").shape == std::vector<int64_t>{5, 1});
  CHECK(episode.observations.at("proprio").f32.back() == doctest::Approx(1.1));
  CHECK(episode.terminated == std::vector<uint8_t>{0, 0, 0, 1});
  CHECK(episode.truncated == std::vector<uint8_t>{0, 0, 0, 0});
  CHECK(episode.metadata.success);
  CHECK(episode.metadata.seed == 3);
  CHECK(episode.metadata.object_ids == std::vector<int64_t>{7, 8});
  CHECK(episode.metadata.policy_id == "constant");
  CHECK(episode.metadata.end_time_unix >= episode.metadata.start_time_unix);
  CHECK(result->total_return == doctest::Approx(1.0 - 0.03));
  CHECK(result->policy_frames.size() == 5);
  CHECK(result->view_frames.empty());
  // The true state at each of the 5 observations, recorded for evaluation beside the episode.
  const nlohmann::json extra = nlohmann::json::parse(episode.metadata.extra_json);
  REQUIRE(extra["true_state"]["position"].size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(extra["true_state"]["position"][i].get<double>() ==
          doctest::Approx(episode.observations.at("proprio").f32[i]).epsilon(1e-6));
  }
}

TEST_CASE("actions out of bounds are recorded as applied and time limits truncate") {
  ToyEnv env(/*max_steps=*/3);
  ConstantPolicy policy(-5.0f);  // clipped to -0.5, never succeeds
  auto result = RunEpisode(env, policy, 0, nlohmann::json::object(), {}, kNever);
  REQUIRE(result);
  CHECK(result->episode.num_steps() == 3);
  CHECK(result->episode.actions.f32[0] == -0.5f);
  CHECK(result->episode.truncated == std::vector<uint8_t>{0, 0, 1});
  CHECK(result->episode.terminated == std::vector<uint8_t>{0, 0, 0});
  CHECK_FALSE(result->episode.metadata.success);
  CHECK(nlohmann::json::parse(result->episode.metadata.extra_json)["clipped_action_components"] == 3);
}

TEST_CASE("a policy returning NaN or the wrong size is bad data with a clear message") {
  class NanPolicy : public Policy {
   public:
    std::vector<float> Act(const Observation&, const nlohmann::json&) override {
      return {std::nanf(""), 0.0f};
    }
    std::string id() const override { return "checkpoint:abc"; }
  };
  ToyEnv env;
  NanPolicy nan_policy;
  try {
    RunEpisode(env, nan_policy, 0, nlohmann::json::object(), {}, kNever);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kBadData);
    CHECK(std::string(e.what()) ==
          "policy checkpoint:abc returned a non-finite action (component 0) at step 0");
  }
  class ShortPolicy : public ConstantPolicy {
   public:
    ShortPolicy() : ConstantPolicy(0.1f) {}
    std::vector<float> Act(const Observation&, const nlohmann::json&) override { return {0.1f}; }
  };
  ShortPolicy short_policy;
  CHECK_THROWS_WITH_AS(RunEpisode(env, short_policy, 0, nlohmann::json::object(), {}, kNever),
                       "policy constant returned 1 action components, the cell 'toy' expects 2",
                       Error);
}

TEST_CASE("an abort between steps drops the episode") {
  ToyEnv env;
  ConstantPolicy policy(0.1f);
  int polls = 0;
  auto result = RunEpisode(env, policy, 0, nlohmann::json::object(), {},
                           [&] { return ++polls > 2; });
  CHECK_FALSE(result);
  CHECK(polls == 3);
}

std::vector<RolloutResult> RunToy(int workers, int64_t episodes, uint64_t seed) {
  RunnerOptions options;
  options.workers = workers;
  options.seed = seed;
  options.episodes = episodes;
  options.stop_requested = kNever;
  options.abort_requested = kNever;
  std::vector<RolloutResult> results;
  RunEpisodes(
      options,
      [](int) { return Worker{std::make_unique<ToyEnv>(), std::make_unique<SeededRandomPolicy>()}; },
      [](int64_t index, uint64_t) { return nlohmann::json{{"object_ids", {index % 3}}}; },
      [&](RolloutResult&& r) { results.push_back(std::move(r)); });
  return results;
}

TEST_CASE("results do not depend on the number of workers") {
  const auto one = RunToy(1, 24, 42);
  const auto four = RunToy(4, 24, 42);
  REQUIRE(one.size() == 24);
  REQUIRE(four.size() == 24);
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(four[i].index == int64_t(i));
    CHECK(four[i].episode.metadata.seed == EpisodeSeed(42, int64_t(i)));
    CHECK(four[i].episode.metadata.seed == one[i].episode.metadata.seed);
    CHECK(four[i].episode.metadata.object_ids == std::vector<int64_t>{int64_t(i % 3)});
    CHECK(four[i].episode.actions.f32 == one[i].episode.actions.f32);
    CHECK(four[i].episode.rewards == one[i].episode.rewards);
    CHECK(four[i].episode.observations.at("image").u8 == one[i].episode.observations.at("image").u8);
  }
  // A different run seed gives different episodes.
  const auto other = RunToy(2, 4, 43);
  CHECK(other[0].episode.metadata.seed != one[0].episode.metadata.seed);
}

TEST_CASE("a stop request lets running episodes finish and starts no new ones") {
  std::atomic<int> delivered{0};
  RunnerOptions options;
  options.workers = 3;
  options.episodes = -1;  // forever
  options.stop_requested = [&] { return delivered.load() >= 5; };
  options.abort_requested = kNever;
  std::vector<int64_t> indices;
  const RunnerSummary summary = RunEpisodes(
      options,
      [](int) { return Worker{std::make_unique<ToyEnv>(), std::make_unique<ConstantPolicy>(0.1f)}; },
      nullptr, [&](RolloutResult&& r) {
        indices.push_back(r.index);
        ++delivered;
      });
  CHECK(summary.stopped);
  CHECK(summary.dropped == 0);
  CHECK(summary.delivered == int64_t(indices.size()));
  REQUIRE(indices.size() >= 5);
  for (size_t i = 0; i < indices.size(); ++i) CHECK(indices[i] == int64_t(i));  // no gaps
  CHECK(summary.steps == summary.delivered * 8);
}

TEST_CASE("an abort drops episodes in progress and keeps the finished ones") {
  std::atomic<bool> abort{false};
  std::atomic<int> delivered{0};
  RunnerOptions options;
  options.workers = 2;
  options.episodes = -1;
  options.stop_requested = [&] { return abort.load(); };
  options.abort_requested = [&] { return abort.load(); };
  const RunnerSummary summary = RunEpisodes(
      options,
      [](int) { return Worker{std::make_unique<ToyEnv>(), std::make_unique<ConstantPolicy>(0.1f)}; },
      nullptr, [&](RolloutResult&&) {
        if (++delivered == 3) abort = true;
      });
  CHECK(summary.stopped);
  CHECK(summary.delivered >= 3);
  CHECK(summary.delivered + summary.dropped >= 3);
}

TEST_CASE("a failing cell stops the run and its error reaches the caller") {
  std::atomic<int> budget{30};
  RunnerOptions options;
  options.workers = 2;
  options.episodes = 100;
  options.stop_requested = kNever;
  options.abort_requested = kNever;
  int64_t delivered = 0;
  try {
    RunEpisodes(
        options,
        [&](int) {
          auto env = std::make_unique<ToyEnv>();
          env->fail_after_steps = &budget;
          return Worker{std::move(env), std::make_unique<ConstantPolicy>(0.1f)};
        },
        nullptr, [&](RolloutResult&&) { ++delivered; });
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kEnvFailure);
    CHECK(std::string(e.what()) == "toy cell stopped answering");
  }
  CHECK(delivered >= 1);  // finished episodes were still delivered
  CHECK(delivered <= 4);
}

TEST_CASE("a failing sink stops the workers and its error reaches the caller") {
  RunnerOptions options;
  options.workers = 2;
  options.episodes = -1;
  options.stop_requested = kNever;
  options.abort_requested = kNever;
  int calls = 0;
  CHECK_THROWS_WITH_AS(
      RunEpisodes(
          options,
          [](int) { return Worker{std::make_unique<ToyEnv>(), std::make_unique<ConstantPolicy>(0.1f)}; },
          nullptr,
          [&](RolloutResult&&) {
            if (++calls == 2) Fail(ExitCode::kIoError, "disk full");
          }),
      "disk full", Error);
  CHECK(calls == 2);
}

TEST_CASE("a worker that cannot be built fails the run") {
  RunnerOptions options;
  options.workers = 3;
  options.episodes = 10;
  options.stop_requested = kNever;
  options.abort_requested = kNever;
  CHECK_THROWS_WITH_AS(RunEpisodes(
                           options,
                           [](int w) -> Worker {
                             if (w == 1) Fail(ExitCode::kBadData, "ckpt: corrupt");
                             return Worker{std::make_unique<ToyEnv>(),
                                           std::make_unique<ConstantPolicy>(0.1f)};
                           },
                           nullptr, [](RolloutResult&&) {}),
                       "ckpt: corrupt", Error);
}

}  // namespace
}  // namespace perpetua
