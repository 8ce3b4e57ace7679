// Exploration decorators: epsilon-greedy and Gaussian action noise.
#include "rollout/exploration.h"

#include <doctest/doctest.h>

#include "rollout/toy_env.h"

namespace perpetua {
namespace {
using testing::ConstantPolicy;

std::vector<float> Run(Policy& policy, uint64_t seed, int steps) {
  policy.BeginEpisode(seed);
  std::vector<float> actions;
  for (int i = 0; i < steps; ++i) {
    auto a = policy.Act({}, nlohmann::json::object());
    actions.insert(actions.end(), a.begin(), a.end());
  }
  return actions;
}

TEST_CASE("epsilon-greedy explores about epsilon of the steps and depends only on the seed") {
  EpsilonGreedyPolicy policy(std::make_unique<ConstantPolicy>(0.1f, "checkpoint:a"),
                             std::make_unique<ConstantPolicy>(-0.3f, "random"), 0.25);
  CHECK(policy.id() == "checkpoint:a");
  const auto first = Run(policy, 11, 4000);
  int explored = 0;
  for (size_t i = 0; i < first.size(); i += 2) explored += first[i] == -0.3f;
  CHECK(explored == policy.explored_steps());
  CHECK(explored > 900);
  CHECK(explored < 1100);
  Run(policy, 99, 10);  // another episode in between changes nothing
  CHECK(Run(policy, 11, 4000) == first);
  CHECK(Run(policy, 12, 4000) != first);
}

TEST_CASE("epsilon 0 and 1 are pure greedy and pure exploration") {
  EpsilonGreedyPolicy greedy(std::make_unique<ConstantPolicy>(0.1f),
                             std::make_unique<ConstantPolicy>(-0.3f), 0.0);
  for (float v : Run(greedy, 1, 50)) CHECK((v == 0.1f || v == 0.0f));
  EpsilonGreedyPolicy explore(std::make_unique<ConstantPolicy>(0.1f),
                              std::make_unique<ConstantPolicy>(-0.3f), 1.0);
  for (float v : Run(explore, 1, 50)) CHECK((v == -0.3f || v == 0.0f));
}

TEST_CASE("an episode mixture lets the other policy act in about share of the episodes and says which acted") {
  EpisodeMixturePolicy policy(std::make_unique<ConstantPolicy>(0.1f, "checkpoint:a"),
                              std::make_unique<ConstantPolicy>(-0.3f, "scripted"), 0.3);
  int alternative = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const auto actions = Run(policy, seed, 6);
    // One policy for the whole episode, and the id names it.
    const float first = actions.front();
    for (float v : actions) CHECK((v == first || v == 0.0f));
    CHECK(policy.id() == (first == -0.3f ? "scripted" : "checkpoint:a"));
    CHECK(policy.alternative_acts() == (first == -0.3f));
    alternative += first == -0.3f;
  }
  CHECK(alternative > 540);
  CHECK(alternative < 660);
  // The draw depends on the episode seed alone.
  const bool seven = (Run(policy, 7, 1), policy.alternative_acts());
  Run(policy, 8, 3);
  CHECK((Run(policy, 7, 1), policy.alternative_acts()) == seven);
  // Share 0 and 1 are one policy throughout.
  EpisodeMixturePolicy never(std::make_unique<ConstantPolicy>(0.1f), std::make_unique<ConstantPolicy>(-0.3f), 0.0);
  EpisodeMixturePolicy always(std::make_unique<ConstantPolicy>(0.1f), std::make_unique<ConstantPolicy>(-0.3f), 1.0);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    CHECK(Run(never, seed, 1).front() == 0.1f);
    CHECK(Run(always, seed, 1).front() == -0.3f);
  }
}

TEST_CASE("Gaussian noise has the configured spread and respects the bounds") {
  testing::ToyEnv env;
  GaussianNoisePolicy policy(std::make_unique<ConstantPolicy>(0.0f), env.spec().action, 0.2);
  const auto actions = Run(policy, 5, 5000);
  double sum = 0, sum_sq = 0;
  for (size_t i = 0; i < actions.size(); i += 2) {
    CHECK(actions[i] >= -0.5f);
    CHECK(actions[i] <= 0.5f);
    sum += actions[i];
    sum_sq += actions[i] * actions[i];
  }
  const double n = actions.size() / 2.0;
  const double stddev = std::sqrt(sum_sq / n - (sum / n) * (sum / n));
  CHECK(stddev == doctest::Approx(0.2 * 0.5).epsilon(0.05));  // 0.2 of the half-range 0.5
  CHECK(Run(policy, 5, 5000) == actions);
  // Clipping: a large noise on the second component (half-range 1) hits the bounds.
  GaussianNoisePolicy wild(std::make_unique<ConstantPolicy>(0.5f), env.spec().action, 3.0);
  for (float v : Run(wild, 2, 500)) {
    CHECK(v >= -1.0f);
    CHECK(v <= 1.0f);
  }
}

}  // namespace
}  // namespace perpetua
