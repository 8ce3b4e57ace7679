// QT-Opt learns on a real cell: the MuJoCo grasp cell with one object (a
// cylinder, so any gripper yaw can hold it) at a new random placement every
// episode, 64x64 images, up to 10 steps. As in QT-Opt, noisy scripted and random episodes
// start the dataset; then rounds of training (the real rl-train q binary,
// resumed each round) alternate with collection by the epsilon-greedy
// learned policy, whose episodes join the dataset. Collection outweighs
// training (about one episode per gradient step; the live loop collects more):
// learning here comes from the policy's own mistakes entering the data.
// Finally the greedy CEM policy loaded from the checkpoint and the random
// policy run the same episodes, on placements that no training episode had
// (episode seeds apart from every collection seed: generalisation, not
// fitting), and McNemar's test on the pairs must find the learned policy better. One trainer thread, inline targets; about 3
// minutes of CPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "data/dataset_writer.h"
#include "env/env_spec_json.h"
#include "env_factory/make_env.h"
#include "eval/stats.h"
#include "nn/torch_runtime.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "qtopt/q_policy.h"
#include "rollout/exploration.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

constexpr uint64_t kEvalSeed0 = 1000000;  // evaluation placements; collection seeds stay below
constexpr int kRounds = 12;
constexpr int kStepsPerRound = 500;
constexpr int kEpisodesPerRound = 300;

EnvConfig Cell() {
  EnvConfig config;
  config.name = "grasp";
  config.objects = "11";  // a cylinder 3.9 cm across
  config.max_objects = 1;
  config.image_size = 64;
  config.max_episode_steps = 10;
  return config;
}

// Runs one episode from placement `env_seed`; returns it in the columnar layout.
Episode RunEpisode(Env& env, Policy& policy, uint64_t env_seed, uint64_t policy_seed) {
  Episode e;
  policy.BeginEpisode(policy_seed);
  ResetResult reset = env.Reset(env_seed);
  std::vector<Observation> frames = {reset.observation};
  nlohmann::json info = reset.info;
  std::vector<float> actions;
  while (true) {
    const std::vector<float> action = policy.Act(frames.back(), info);
    StepResult step = env.Step(action);
    actions.insert(actions.end(), action.begin(), action.end());
    e.rewards.push_back(static_cast<float>(step.reward));
    e.terminated.push_back(step.terminated ? 1 : 0);
    e.truncated.push_back(step.truncated ? 1 : 0);
    frames.push_back(step.observation);
    info = step.info;
    if (step.terminated || step.truncated) {
      e.metadata.success = step.info.value("success", false);
      break;
    }
  }
  const int64_t n = e.num_steps();
  e.actions = Array::Zeros(DType::kFloat32, {n, env.spec().action.dim()});
  e.actions.f32 = actions;
  for (const auto& [key, first] : frames.front()) {
    std::vector<int64_t> shape = first.shape;
    shape.insert(shape.begin(), n + 1);
    Array stacked = Array::Zeros(first.dtype, shape);
    const int64_t row = first.NumElements();
    for (size_t t = 0; t < frames.size(); ++t) {
      const Array& a = frames[t].at(key);
      if (a.dtype == DType::kUint8) {
        std::copy(a.u8.begin(), a.u8.end(), stacked.u8.begin() + static_cast<int64_t>(t) * row);
      } else {
        std::copy(a.f32.begin(), a.f32.end(), stacked.f32.begin() + static_cast<int64_t>(t) * row);
      }
    }
    e.observations[key] = std::move(stacked);
  }
  e.metadata.seed = env_seed;
  e.metadata.policy_id = policy.id();
  return e;
}

// Collects `episodes` episodes into `dir` (one shard); returns the successes.
int Collect(Env& env, Policy& policy, const std::string& dir, int episodes, uint64_t seed0) {
  WriterOptions options;
  options.config.episodes_per_shard = episodes;
  options.config.sync = "none";
  options.env_args = env.spec().env_args;
  options.env_spec = EnvSpecToJson(env.spec());  // the action's bounds and names, as rl-collect declares them
  DatasetWriter writer(dir, options);
  int successes = 0;
  for (int i = 0; i < episodes; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i);
    const Episode e = RunEpisode(env, policy, seed, seed);
    successes += e.metadata.success;
    writer.Add(e);
  }
  writer.Close();
  return successes;
}

// Outcomes (1 = success) of `episodes` episodes on placements never trained on.
std::vector<uint8_t> Evaluate(Env& env, Policy& policy, int episodes) {
  std::vector<uint8_t> outcomes;
  for (int i = 0; i < episodes; ++i) {
    const uint64_t seed = kEvalSeed0 + static_cast<uint64_t>(i);
    outcomes.push_back(RunEpisode(env, policy, seed, seed).metadata.success);
  }
  return outcomes;
}

int Sum(const std::vector<uint8_t>& v) { return static_cast<int>(std::count(v.begin(), v.end(), 1)); }

TEST_CASE("QT-Opt learns to grasp on the grasp cell and beats the random policy") {
  ConfigureTorchRuntime("cpu", 1);  // the in-process policies, like the one-thread trainer
  testing::TempDir tmp;
  auto env = MakeEnv(Cell());
  const EnvSpec& spec = env->spec();
  auto scripted = MakeScriptedPolicy(spec, /*noise=*/0.3, /*seed=*/1);
  auto random = MakeRandomPolicy(spec, /*seed=*/2);
  const int scripted_successes = Collect(*env, *scripted, tmp / "data", 100, 0);
  Collect(*env, *random, tmp / "data", 40, 1000);
  MESSAGE("scripted exploration: " << scripted_successes << "/100 successes");

  // PERPETUA_LEARNING_SEED=N reruns the test with another trainer seed (docs/train.md lists seeds measured).
  const std::string trainer_seed = testing::LearningSeed("3");
  for (int round = 0; round < kRounds; ++round) {
    const auto train = testing::RunProcess(
        {testing::ToolPath("rl-train"), "q", "--data", tmp / "data", "--out", tmp / "run", "--steps",
         std::to_string(kStepsPerRound * (round + 1)), round == 0 ? "--no-resume" : "--resume", "--batch-size",
         "32", "--seed", trainer_seed, "--target-workers.count", "0", "--threads", "1", "--checkpoint-every", "100000",
         "--cem.samples", "32"});
    INFO(train.err);
    REQUIRE(train.exit_code == 0);
    if (round + 1 == kRounds) break;
    // Random exploration that rarely terminates (rl-collect's default, --exploration.random-terminate).
    EpsilonGreedyPolicy explore(LoadPolicyFromCheckpoint(tmp / "run/latest.ckpt", spec),
                                MakeRandomPolicy(spec, /*seed=*/10 + round, /*terminate_probability=*/0.05),
                                /*epsilon=*/0.1);
    const int got = Collect(*env, explore, tmp / "data", kEpisodesPerRound, 2000 + 1000 * static_cast<uint64_t>(round));
    MESSAGE("round " << round << ": epsilon-greedy collection " << got << "/" << kEpisodesPerRound << " successes");
  }

  CheckpointPolicyOptions options;
  options.seed = 4;
  auto learned = LoadPolicyFromCheckpoint(tmp / "run/latest.ckpt", spec, options);
  const int episodes = 60;
  const std::vector<uint8_t> learned_outcomes = Evaluate(*env, *learned, episodes);
  const std::vector<uint8_t> random_outcomes = Evaluate(*env, *random, episodes);
  int only_learned = 0, only_random = 0;
  for (int i = 0; i < episodes; ++i) {
    only_learned += learned_outcomes[i] && !random_outcomes[i];
    only_random += random_outcomes[i] && !learned_outcomes[i];
  }
  const McNemarResult test = McNemarExact(only_learned, only_random);
  MESSAGE("greedy learned policy " << Sum(learned_outcomes) << "/" << episodes << ", random "
                                   << Sum(random_outcomes) << "/" << episodes << ", McNemar exact p "
                                   << test.p_exact);
  // Measured here (docs/train.md, "Learning in CI time"): learned 27/60,
  // random 0/60, p 1.5e-8; trainer seeds 7 and 8 gave 31/60 and 37/60. "Clearly" is a
  // paired test at the 1% level plus a floor on the rate itself.
  CHECK(Sum(learned_outcomes) >= episodes / 6);
  CHECK(test.p_exact < 0.01);
  CHECK(only_learned > only_random);
}

}  // namespace
}  // namespace perpetua
