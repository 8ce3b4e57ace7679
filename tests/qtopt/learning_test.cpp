// QT-Opt learns on a real cell: the MuJoCo grasp cell with one object per
// episode, 32x32 images. Noisy scripted and random episodes are written as
// real shards, the real rl-train q binary trains on them (with a target
// worker), and the greedy CEM policy loaded from its checkpoint must clearly
// beat the random policy on the same unseen episode seeds.
#include <doctest/doctest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "data/dataset_writer.h"
#include "env/make_env.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "qtopt/q_policy.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

EnvConfig Cell() {
  EnvConfig config;
  config.name = "grasp";
  config.objects = "train";
  config.max_objects = 1;
  config.image_size = 32;
  config.max_episode_steps = 12;
  return config;
}

// Runs one episode of `policy`; returns it (columnar) and whether it succeeded.
Episode RunEpisode(Env& env, Policy& policy, uint64_t seed, uint64_t policy_seed) {
  Episode e;
  policy.BeginEpisode(policy_seed);
  ResetResult reset = env.Reset(seed);
  std::vector<Observation> frames = {reset.observation};
  std::vector<float> actions;
  nlohmann::json info = reset.info;
  bool success = false;
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
      success = step.info.value("success", false);
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
    for (size_t t = 0; t < frames.size(); ++t) {
      const Array& a = frames[t].at(key);
      if (a.dtype == DType::kUint8) {
        std::copy(a.u8.begin(), a.u8.end(), stacked.u8.begin() + static_cast<int64_t>(t) * a.NumElements());
      } else {
        std::copy(a.f32.begin(), a.f32.end(), stacked.f32.begin() + static_cast<int64_t>(t) * a.NumElements());
      }
    }
    e.observations[key] = std::move(stacked);
  }
  e.metadata.success = success;
  e.metadata.seed = seed;
  e.metadata.policy_id = policy.id();
  return e;
}

int Successes(Env& env, Policy& policy, uint64_t first_seed, int episodes) {
  int n = 0;
  for (int i = 0; i < episodes; ++i) {
    const uint64_t pos = getenv("QPOS") ? static_cast<uint64_t>(i % atoi(getenv("QPOS"))) : first_seed + static_cast<uint64_t>(i);
    const Episode e = RunEpisode(env, policy, pos, 777 + static_cast<uint64_t>(i));
    n += e.metadata.success;
    if (getenv("QDEBUG") && i < 5) {
      std::string s;
      for (int64_t t = 0; t < e.num_steps(); ++t) {
        s += "[";
        for (int k = 0; k < 6; ++k) s += std::to_string(e.actions.f32[t * 6 + k]).substr(0, 5) + " ";
        s += "] ";
      }
      MESSAGE(policy.id() << " steps " << e.num_steps() << " success " << e.metadata.success << " " << s);
    }
  }
  return n;
}

TEST_CASE("QT-Opt learns to grasp on the grasp cell and beats the random policy") {
  testing::TempDir tmp;
  auto env = MakeEnv(Cell());
  const EnvSpec& spec = env->spec();
  {
    WriterOptions options;
    options.config.episodes_per_shard = 50;
    options.config.sync = "none";
    options.env_args = spec.env_args;
    options.env_spec = {{"action", {{"low", spec.action.low}, {"high", spec.action.high}}}};
    DatasetWriter writer(tmp / "data", options);
    auto scripted = MakeScriptedPolicy(spec, /*noise=*/getenv("QNOISE") ? atof(getenv("QNOISE")) : 0.4, /*seed=*/1);
    auto random = MakeRandomPolicy(spec, /*seed=*/2);
    int successes = 0;
    const int total = getenv("QEP") ? atoi(getenv("QEP")) : 150;
    for (int i = 0; i < total; ++i) {
      Policy& policy = i % 3 == 2 ? *random : *scripted;
      const Episode e = RunEpisode(*env, policy, static_cast<uint64_t>(getenv("QPOS") ? i % atoi(getenv("QPOS")) : i), static_cast<uint64_t>(i));
      successes += e.metadata.success;
      writer.Add(e);
    }
    writer.Close();
    MESSAGE("training data: 150 episodes, " << successes << " successes");
  }
  const auto train = testing::RunProcess(
      {testing::ToolPath("rl-train"), "q", "--data", tmp / "data", "--out", tmp / "run", "--steps", getenv("QSTEPS") ? getenv("QSTEPS") : "1500", "--cem.samples", getenv("QCEM") ? getenv("QCEM") : "64",
       "--batch-size", "32", "--seed", "3", "--workers.count", "1", "--checkpoint-every", "500",
       "--network.encoder-channels", "16,32,32", "--optim.learning-rate", "0.001"});
  INFO(train.err);
  REQUIRE(train.exit_code == 0);

  if (getenv("QDEBUG")) MESSAGE(testing::ReadFile(tmp / "run/metrics.csv"));
  CheckpointPolicyOptions options;
  options.seed = 4;
  auto learned = LoadPolicyFromCheckpoint(tmp / "run/latest.ckpt", spec, options);
  auto random = MakeRandomPolicy(spec, /*seed=*/5);
  const int episodes = 30;
  const uint64_t first = getenv("QPOS") ? 0 : 100000;
  const int learned_successes = Successes(*env, *learned, first, episodes);
  const int random_successes = Successes(*env, *random, first, episodes);
  MESSAGE("held-out seeds: learned " << learned_successes << "/" << episodes << ", random " << random_successes
                                     << "/" << episodes);
  CHECK(learned_successes >= random_successes + 6);
}

}  // namespace
}  // namespace perpetua
