// Random and scripted policies (lib/policy) on specs alone, without cells.
#include <doctest/doctest.h>

#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "sim_test_util.h"

namespace perpetua {
namespace {

EnvSpec BoxSpec() {
  EnvSpec spec;
  spec.name = "grasp";
  spec.action.low = {-1, -2, 0};
  spec.action.high = {1, 2, 0.5f};
  spec.action.names = {"a", "b", "c"};
  return spec;
}

std::vector<std::vector<float>> Actions(Policy& policy, uint64_t episode_seed, int n) {
  policy.BeginEpisode(episode_seed);
  std::vector<std::vector<float>> actions;
  for (int i = 0; i < n; ++i) actions.push_back(policy.Act({}, nlohmann::json::object()));
  return actions;
}

}  // namespace

TEST_CASE("the random policy draws within bounds and is reproducible per episode") {
  const EnvSpec spec = BoxSpec();
  std::unique_ptr<Policy> policy = MakeRandomPolicy(spec, 42);
  CHECK(policy->id() == "random");
  const auto first = Actions(*policy, 7, 50);
  for (const auto& action : first) {
    REQUIRE(action.size() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(action[i] >= spec.action.low[i]);
      CHECK(action[i] <= spec.action.high[i]);
    }
  }
  Actions(*policy, 8, 13);                      // whatever ran before...
  CHECK(Actions(*policy, 7, 50) == first);      // ...episode 7 is the same
  CHECK(Actions(*policy, 9, 50) != first);      // another episode differs
  std::unique_ptr<Policy> other = MakeRandomPolicy(spec, 43);
  CHECK(Actions(*other, 7, 50) != first);       // another policy seed differs
}

TEST_CASE("the random policy terminates on the share of steps asked for, uniform otherwise") {
  EnvSpec spec = BoxSpec();
  spec.action.names = {"dx", "terminate", "gripper"};
  const auto terminating_share = [&](double probability, int component) {
    std::unique_ptr<Policy> policy = MakeRandomPolicy(spec, 5, probability);
    int positive = 0, n = 0;
    for (uint64_t episode = 0; episode < 40; ++episode) {
      for (const auto& action : Actions(*policy, episode, 100)) {
        CHECK(action[component] >= spec.action.low[component]);
        CHECK(action[component] <= spec.action.high[component]);
        positive += action[component] > 0;
        ++n;
      }
    }
    return double(positive) / n;
  };
  CHECK(terminating_share(0.05, 1) == doctest::Approx(0.05).epsilon(0.3));  // 4000 draws
  CHECK(terminating_share(0.0, 1) == 0.0);
  CHECK(terminating_share(1.0, 1) == 1.0);
  CHECK(terminating_share(-1.0, 1) == doctest::Approx(0.5).epsilon(0.1));   // uniform
  CHECK(terminating_share(0.05, 0) == doctest::Approx(0.5).epsilon(0.1));   // other components stay uniform
  // Without a component named "terminate" the knob changes nothing.
  spec.action.names = {"a", "b", "c"};
  CHECK(Actions(*MakeRandomPolicy(spec, 5, 0.05), 3, 20) == Actions(*MakeRandomPolicy(spec, 5), 3, 20));
}

TEST_CASE("scripted policies exist per cell and refuse what they cannot do") {
  EnvSpec spec = BoxSpec();
  for (const std::string name : {"grasp", "push", "door", "pendulum"}) {
    spec.name = name;
    CHECK(MakeScriptedPolicy(spec)->id() == "scripted:" + name);
  }
  spec.name = "tcp://robot:1";
  testing::ExpectError([&] { MakeScriptedPolicy(spec); }, ExitCode::kUsage,
                       "no scripted policy for env 'tcp://robot:1'");
  spec.name = "grasp";
  testing::ExpectError([&] { MakeScriptedPolicy(spec, -0.1); }, ExitCode::kUsage,
                       "scripted policy noise must be >= 0");
  // Without the ground truth a script cannot act: bad data, not a crash.
  std::unique_ptr<Policy> grasp = MakeScriptedPolicy(spec);
  grasp->BeginEpisode(1);
  testing::ExpectError([&] { grasp->Act({}, nlohmann::json::object()); }, ExitCode::kBadData,
                       "scripted:grasp: info lacks 'objects'");
  spec.name = "pendulum";
  std::unique_ptr<Policy> pendulum = MakeScriptedPolicy(spec);
  testing::ExpectError([&] { pendulum->Act({}, {{"theta", 0.1}}); }, ExitCode::kBadData,
                       "scripted:pendulum: info lacks the number 'theta_dot'");
}

TEST_CASE("noisy scripted policies are reproducible per episode seed") {
  EnvSpec spec = BoxSpec();
  spec.name = "pendulum";
  std::unique_ptr<Policy> a = MakeScriptedPolicy(spec, 0.3, 5), b = MakeScriptedPolicy(spec, 0.3, 5);
  const nlohmann::json info = {{"theta", 2.0}, {"theta_dot", 0.5}};
  a->BeginEpisode(3);
  b->BeginEpisode(3);
  const std::vector<float> first = a->Act({}, info);
  CHECK(first == b->Act({}, info));
  a->BeginEpisode(4);
  CHECK(a->Act({}, info) != first);
  std::unique_ptr<Policy> clean = MakeScriptedPolicy(spec);
  clean->BeginEpisode(3);
  CHECK(clean->Act({}, info) != first);
}

}  // namespace perpetua
