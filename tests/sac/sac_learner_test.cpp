// The SAC learner on small in-memory batches: bit-exact resume, the parts of
// one update seen from outside (Polyak, temperature), the exported policy,
// and every bad input with its message and exit code.
#include "sac/sac_agent.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/error.h"
#include "common/rng.h"
#include "nn/tensor_io.h"
#include "sac/sac_policy.h"

namespace perpetua {
namespace {

std::string ErrorOf(const std::function<void()>& fn, ExitCode* code) {
  try {
    fn();
  } catch (const Error& e) {
    *code = e.code();
    return e.what();
  }
  *code = ExitCode::kOk;
  return "";
}

EnvSpec StateSpec(float low = -1.0f, float high = 1.0f) {
  EnvSpec spec;
  spec.name = "toy-state";
  spec.observations = {{"state", DType::kFloat32, {3}}};
  spec.action.low = {low};
  spec.action.high = {high};
  return spec;
}

EnvSpec PixelSpec() {
  EnvSpec spec;
  spec.name = "toy-pixels";
  spec.observations = {{"image", DType::kUint8, {16, 16, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low = {-1.0f, 0.0f};
  spec.action.high = {1.0f, 2.0f};
  return spec;
}

SacConfig SmallConfig() {
  SacConfig c;
  c.network.hidden = {16, 16};
  c.network.encoder_channels = {4, 4};
  c.network.encoder_strides = {2, 1};
  c.network.feature_dim = 8;
  c.batch_size = 8;
  c.policy_every = 2;
  c.augment_shift = 2;  // resume must restore the generator the shifts draw from
  return c;
}

// A batch of random transitions for `spec` (every observation key of it).
TransitionBatch RandomBatch(const EnvSpec& spec, int64_t b, uint64_t seed) {
  Rng rng(seed);
  TransitionBatch batch;
  for (auto* group : {&batch.observations, &batch.next_observations}) {
    for (const ObservationSpec& o : spec.observations) {
      std::vector<int64_t> shape = o.shape;
      shape.insert(shape.begin(), b);
      Array a = Array::Zeros(o.dtype, shape);
      for (auto& v : a.u8) v = static_cast<uint8_t>(rng.UniformInt(256));
      for (auto& v : a.f32) v = static_cast<float>(rng.Normal());
      (*group)[o.key] = a;
    }
  }
  batch.actions = Array::Zeros(DType::kFloat32, {b, spec.action.dim()});
  for (int64_t i = 0; i < b; ++i) {
    for (int j = 0; j < spec.action.dim(); ++j) {
      batch.actions.f32[i * spec.action.dim() + j] = static_cast<float>(rng.Uniform(spec.action.low[j], spec.action.high[j]));
    }
    batch.rewards.push_back(static_cast<float>(rng.Normal()));
    batch.terminated.push_back(rng.Uniform() < 0.2 ? 1 : 0);
  }
  return batch;
}

// One observation of `spec` (the first row of a random batch).
Observation RandomObservation(const EnvSpec& spec, uint64_t seed) {
  const TransitionBatch one = RandomBatch(spec, 1, seed);
  Observation obs;
  for (const auto& [key, array] : one.observations) {
    obs[key] = array;
    obs[key].shape.erase(obs[key].shape.begin());
  }
  return obs;
}

at::Generator& Generator() {
  static at::Generator generator = at::detail::createCPUGenerator(1);
  return generator;
}

TensorBatch Batch(const EnvSpec& spec, uint64_t seed) {
  return ToTensorBatch(RandomBatch(spec, 8, seed), InputSpec::FromEnvSpec(spec, "toy"), torch::kCPU, "toy");
}

CheckpointContents Saved(const SacAgent& learner) {
  CheckpointContents contents;
  learner.Save(&contents);
  contents.metadata["id"] = "test";
  return ParseCheckpoint(SerializeCheckpoint(contents), "test.ckpt");
}

// A cell whose middle action component is "terminate" (as grasp's last is), in a box whose
// centre is not 0, terminate's range included: the cell's rule (terminate > 0) is not the middle
// of its range.
EnvSpec TerminateSpec() {
  EnvSpec spec;
  spec.name = "toy-terminate";
  spec.observations = {{"state", DType::kFloat32, {3}}};
  spec.action.low = {0.0f, -1.0f, -2.0f};
  spec.action.high = {2.0f, 3.0f, 2.0f};
  spec.action.names = {"dx", "terminate", "dy"};
  return spec;
}

SacConfig DiscreteTerminateConfig() {
  SacConfig c = SmallConfig();
  c.network.discrete_terminate = true;
  return c;
}

void CheckResumeIsExact(const EnvSpec& env, const SacConfig& config = SmallConfig()) {
  const InputSpec spec = InputSpec::FromEnvSpec(env, "toy");
  SacAgent straight(config, spec, torch::kCPU, /*seed=*/7);
  at::Generator generator = at::detail::createCPUGenerator(11);
  std::vector<SacUpdateStats> expected;
  CheckpointContents middle;
  torch::Tensor middle_generator;  // the caller (the training run) saves its generator
  for (int i = 0; i < 7; ++i) {
    if (i == 3) {
      middle = Saved(straight);
      middle_generator = generator.get_state();
    }
    expected.push_back(straight.Update(Batch(env, 100 + i), generator));
  }
  SacAgent resumed(config, spec, torch::kCPU, /*seed=*/99);
  resumed.Load(middle, "test.ckpt");
  at::Generator resumed_generator = at::detail::createCPUGenerator(0);
  resumed_generator.set_state(middle_generator);
  CHECK(resumed.updates() == 3);
  for (int i = 3; i < 7; ++i) {
    const SacUpdateStats s = resumed.Update(Batch(env, 100 + i), resumed_generator);
    CHECK(s.critic_loss == expected[i].critic_loss);
    CHECK(s.actor_loss == expected[i].actor_loss);
    CHECK(s.alpha == expected[i].alpha);
    CHECK(s.q_mean == expected[i].q_mean);
    CHECK(s.actor_updated == expected[i].actor_updated);
    CHECK(s.terminate_prob == expected[i].terminate_prob);
  }
  const CheckpointContents a = Saved(straight), b = Saved(resumed);
  CHECK(a.metadata == b.metadata);
  for (const auto& [name, bytes] : a.blobs) CHECK_MESSAGE(b.blobs.at(name) == bytes, name);
}

TEST_CASE("resume from a checkpoint is bit-exact from state") { CheckResumeIsExact(StateSpec()); }

TEST_CASE("resume from a checkpoint is bit-exact from pixels") { CheckResumeIsExact(PixelSpec()); }

TEST_CASE("resume from a checkpoint is bit-exact with a discrete terminate") {
  CheckResumeIsExact(TerminateSpec(), DiscreteTerminateConfig());
}

SacConfig AveragedConfig(double rate) {
  SacConfig c = SmallConfig();
  c.policy_average = rate;
  return c;
}

TEST_CASE("resume from a checkpoint is bit-exact with an averaged policy") {
  CheckResumeIsExact(PixelSpec(), AveragedConfig(0.3));
}

SacConfig KeypointConfig() {
  SacConfig c = SmallConfig();
  c.network.keypoints = 3;
  return c;
}

TEST_CASE("resume from a checkpoint is bit-exact with a keypoint encoder") {
  CheckResumeIsExact(PixelSpec(), KeypointConfig());
}

TEST_CASE("a keypoint encoder gives 2K coordinates in [-1,1], and its checkpoint acts like the learner") {
  const EnvSpec env = PixelSpec();
  const InputSpec spec = InputSpec::FromEnvSpec(env, "toy");
  SacEncoder encoder(KeypointConfig().network, spec);
  const torch::Tensor images = torch::randint(0, 256, {5, 16, 16, 3}, torch::kLong).to(torch::kUInt8);
  const torch::Tensor features = encoder->forward(images);
  REQUIRE(features.sizes() == torch::IntArrayRef({5, 6}));
  CHECK(features.abs().max().item<double>() <= 1.0);
  CHECK(KeypointConfig().network.EncoderOutputDim() == 6);
  CHECK(SmallConfig().network.EncoderOutputDim() == 8);

  SacAgent learner(KeypointConfig(), spec, torch::kCPU, 3);
  for (int i = 0; i < 3; ++i) learner.Update(Batch(env, 20 + i), Generator());
  const CheckpointContents contents = Saved(learner);
  CHECK(contents.metadata.at("sac_network").at("keypoints") == 3);
  auto loaded = LoadSacPolicy(contents, "p.ckpt", env, SacActionMode::kMean, torch::kCPU, 0);
  auto live = learner.MakePolicy(SacActionMode::kMean, 0, "live");
  const Observation obs = RandomObservation(env, 9);
  CHECK(loaded->Act(obs, {}) == live->Act(obs, {}));

  // A checkpoint from before the option has no "keypoints": it reads as 0 (off).
  nlohmann::json old = SmallConfig().network.ToJson();
  old.erase("keypoints");
  CHECK(SacNetworkConfig::FromJson(old, "old.ckpt").keypoints == 0);
}

TEST_CASE("the exported policy acts with the moving average of the live encoder and actor") {
  const EnvSpec env = PixelSpec();
  const InputSpec spec = InputSpec::FromEnvSpec(env, "toy");
  SacAgent learner(AveragedConfig(0.25), spec, torch::kCPU, 3);
  // The live encoder and actor, one flat buffer as "sac.policy_average" holds them.
  auto live = [](const CheckpointContents& c) {
    const torch::Tensor actor = TensorFromBytes(c.blobs.at("sac.actor"), "t");
    const int64_t encoder = TensorFromBytes(c.blobs.at("sac.policy_average"), "t").numel() - actor.numel();
    return torch::cat({TensorFromBytes(c.blobs.at("sac.critic"), "t").narrow(0, 0, encoder), actor});
  };
  CheckpointContents contents = Saved(learner);
  CHECK(contents.metadata.at("sac_policy_average") == 0.25);
  torch::Tensor expected = live(contents);  // before any update: the live weights
  CHECK(torch::equal(TensorFromBytes(contents.blobs.at("sac.policy_average"), "t"), expected));
  // Rates 1, 1/2, 1/3, then 0.25: the plain mean of the first four, then a moving average.
  for (int i = 1; i <= 6; ++i) {
    learner.Update(Batch(env, 40 + i), Generator());
    contents = Saved(learner);
    expected = expected + (live(contents) - expected) * std::max(0.25, 1.0 / i);
    CHECK(torch::allclose(TensorFromBytes(contents.blobs.at("sac.policy_average"), "t"), expected, 1e-5, 1e-6));
  }
  CHECK(!torch::allclose(expected, live(contents)));

  // The checkpoint's policy and MakePolicy act with the average, not with the live networks.
  const Observation obs = RandomObservation(env, 5);
  auto loaded = LoadSacPolicy(contents, "p.ckpt", env, SacActionMode::kMean, torch::kCPU, 0);
  const std::vector<float> averaged = loaded->Act(obs, {});
  CHECK(learner.MakePolicy(SacActionMode::kMean, 0, "in-process")->Act(obs, {}) == averaged);
  SacPolicy live_policy(learner.acting(), spec, SacActionMode::kMean, 0, "live");
  CHECK(live_policy.Act(obs, {}) != averaged);
  // Without the average the checkpoint's policy is the live one (what a checkpoint written without it holds).
  SacAgent plain(SmallConfig(), spec, torch::kCPU, 1);
  plain.Load(contents, "p.ckpt");
  CHECK(Saved(plain).blobs.count("sac.policy_average") == 0);
  CHECK(LoadSacPolicy(Saved(plain), "p.ckpt", env, SacActionMode::kMean, torch::kCPU, 0)->Act(obs, {}) ==
        live_policy.Act(obs, {}));
  // A warm start restarts the average from the live weights; a resume from a checkpoint without one too.
  SacAgent warm(AveragedConfig(0.25), spec, torch::kCPU, 2);
  warm.InitFrom(contents, "p.ckpt");
  CHECK(torch::equal(TensorFromBytes(Saved(warm).blobs.at("sac.policy_average"), "t"), live(contents)));
  SacAgent resumed(AveragedConfig(0.25), spec, torch::kCPU, 2);
  resumed.Load(Saved(plain), "p.ckpt");
  CHECK(torch::equal(TensorFromBytes(Saved(resumed).blobs.at("sac.policy_average"), "t"), live(contents)));
  // Corrupt averaged weights fail the example check, as corrupt live ones do.
  CheckpointContents altered = contents;
  altered.blobs["sac.policy_average"] =
      TensorToBytes(TensorFromBytes(contents.blobs.at("sac.policy_average"), "t").add(0.5));
  ExitCode code;
  CHECK(ErrorOf([&] { LoadSacPolicy(altered, "p.ckpt", env, SacActionMode::kMean, torch::kCPU, 0); }, &code) ==
        "p.ckpt: the example input no longer gives the stored action (corrupt weights?)");
  CHECK(code == ExitCode::kBadData);
}

// Eight transitions that all end the task: rows 0-3 terminate (terminate component 0.5, below the
// middle of its range [-1, 3], their motion drawn at random), rows 4-7 move; terminating pays `stop_reward`, moving `move_reward`.
TensorBatch TerminateBatch(float stop_reward, float move_reward, uint64_t seed) {
  TransitionBatch data = RandomBatch(TerminateSpec(), 8, seed);
  for (int i = 0; i < 8; ++i) {
    data.actions.f32[i * 3 + 1] = i < 4 ? 0.5f : -0.5f;
    data.rewards[i] = i < 4 ? stop_reward : move_reward;
    data.terminated[i] = 1;
  }
  return ToTensorBatch(data, InputSpec::FromEnvSpec(TerminateSpec(), "toy"), torch::kCPU, "toy");
}

TEST_CASE("a discrete terminate is one action to the critics, chosen by the policy with its own probability") {
  const InputSpec spec = InputSpec::FromEnvSpec(TerminateSpec(), "toy");
  REQUIRE(spec.terminate_index == 1);
  CHECK(DiscreteTerminateIndex(DiscreteTerminateConfig().network, spec) == 1);
  CHECK(DiscreteTerminateIndex(SmallConfig().network, spec) == -1);
  CHECK(DiscreteTerminateIndex(DiscreteTerminateConfig().network, InputSpec::FromEnvSpec(StateSpec(), "toy")) == -1);
  // The target entropy counts the motion's components only.
  CHECK(SacAgent(DiscreteTerminateConfig(), spec, torch::kCPU, 1).target_entropy() == -2.0);
  CHECK(SacAgent(SmallConfig(), spec, torch::kCPU, 1).target_entropy() == -3.0);

  // Terminating actions that differ only in the components the cell ignores are one action: the
  // first update's critic loss is the same whatever those components were (and differs without).
  auto first_loss = [&](const SacConfig& config, float motion) {
    TensorBatch batch = TerminateBatch(1.0f, 0.0f, 3);
    batch.action.narrow(0, 0, 4).select(1, 0).fill_(motion);
    SacAgent agent(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    return agent.Update(batch, generator).critic_loss;
  };
  CHECK(first_loss(DiscreteTerminateConfig(), 0.1f) == first_loss(DiscreteTerminateConfig(), 1.9f));
  CHECK(first_loss(SmallConfig(), 0.1f) != first_loss(SmallConfig(), 1.9f));

  Observation obs;
  obs["state"] = Array::FromFloats({0.1f, -0.2f, 0.3f});
  // Trained where terminating pays, the policy terminates (evaluation: the canonical action, its
  // motion at the box's centre); where moving pays, it moves (terminate at its lower bound).
  auto trained = [&](float stop_reward, float move_reward, SacUpdateStats* last) {
    SacConfig config = DiscreteTerminateConfig();
    config.policy_every = 1;
    config.actor_lr = 1e-2;
    config.initial_alpha = 0.01;  // the rewards, not the entropy bonus, decide
    auto agent = std::make_unique<SacAgent>(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    for (int i = 0; i < 150; ++i) *last = agent->Update(TerminateBatch(stop_reward, move_reward, i), generator);
    return agent;
  };
  SacUpdateStats stopping_stats, moving_stats;
  auto stopping = trained(1.0f, 0.0f, &stopping_stats);
  auto moving = trained(0.0f, 1.0f, &moving_stats);
  CAPTURE(stopping_stats.terminate_prob);
  CAPTURE(moving_stats.terminate_prob);
  CHECK(stopping_stats.terminate_prob > 0.9);
  CHECK(moving_stats.terminate_prob < 0.1);
  CHECK(stopping->MakePolicy(SacActionMode::kMean, 0, "m")->Act(obs, {}) == std::vector<float>{1.0f, 3.0f, 0.0f});
  const std::vector<float> moved = moving->MakePolicy(SacActionMode::kMean, 0, "m")->Act(obs, {});
  CHECK(moved[1] == -1.0f);
  // Collection samples the choice: every action terminates canonically or moves.
  auto sampler = stopping->MakePolicy(SacActionMode::kSample, 0, "s");
  int stops = 0;
  for (int episode = 0; episode < 100; ++episode) {
    sampler->BeginEpisode(episode);
    const std::vector<float> a = sampler->Act(obs, {});
    REQUIRE(a.size() == 3);
    if (a[1] == 3.0f) {
      ++stops;
      CHECK(a == std::vector<float>{1.0f, 3.0f, 0.0f});
    } else {
      CHECK(a[1] == -1.0f);
    }
  }
  CHECK(stops > 80);
  // A checkpoint's policy acts as the live one; the metrics row reports the probability.
  const CheckpointContents contents = Saved(*stopping);
  CHECK(contents.metadata.at("sac_network").at("discrete_terminate") == true);
  CHECK(LoadSacPolicy(contents, "p.ckpt", TerminateSpec(), SacActionMode::kMean, torch::kCPU, 0)->Act(obs, {}) ==
        std::vector<float>{1.0f, 3.0f, 0.0f});
  // A run continues only with the network it has.
  SacAgent plain(SmallConfig(), spec, torch::kCPU, 1);
  ExitCode code;
  CHECK(ErrorOf([&] { plain.InitFrom(contents, "p.ckpt"); }, &code) ==
        "p.ckpt: checkpoint's network has discrete_terminate true but --sac.network.* asks for false");
  CHECK(code == ExitCode::kBadData);
  const MetricsLog::Row row = StatsRow(stopping_stats, false, false, true);
  CHECK(row.back().first == "terminate_prob");
  CHECK(row.back().second == stopping_stats.terminate_prob);
  // A checkpoint written before the option loads as a continuous terminate.
  nlohmann::json old = SmallConfig().network.ToJson();
  old.erase("discrete_terminate");
  CHECK_FALSE(SacNetworkConfig::FromJson(old, "old.ckpt").discrete_terminate);
}

TEST_CASE("with tau 1 the target critics equal the critics after an update") {
  SacConfig config = SmallConfig();
  config.tau = 1.0;
  SacAgent learner(config, InputSpec::FromEnvSpec(StateSpec(), "toy"), torch::kCPU, 1);
  CheckpointContents before = Saved(learner);
  learner.Update(Batch(StateSpec(), 1), Generator());
  const CheckpointContents after = Saved(learner);
  const torch::Tensor critic = TensorFromBytes(after.blobs.at("sac.critic"), "t");
  CHECK(!torch::equal(critic, TensorFromBytes(before.blobs.at("sac.critic"), "t")));  // the critics moved
  CHECK(torch::equal(critic, TensorFromBytes(after.blobs.at("sac.target_critic"), "t")));
}

TEST_CASE("the temperature rises below the target entropy and falls above it") {
  SacConfig config = SmallConfig();
  config.policy_every = 1;
  const InputSpec spec = InputSpec::FromEnvSpec(StateSpec(), "toy");
  config.target_entropy = 5.0;  // above any entropy of actions in [-1,1] (at most log 2)
  SacAgent rising(config, spec, torch::kCPU, 1);
  config.target_entropy = -50.0;
  SacAgent falling(config, spec, torch::kCPU, 1);
  for (int i = 0; i < 3; ++i) {
    rising.Update(Batch(StateSpec(), i), Generator());
    falling.Update(Batch(StateSpec(), i), Generator());
  }
  CHECK(rising.alpha() > 1.0);
  CHECK(falling.alpha() < 1.0);
  CHECK(rising.target_entropy() == 5.0);
  CHECK(SacAgent(SmallConfig(), InputSpec::FromEnvSpec(PixelSpec(), "toy"), torch::kCPU, 1).target_entropy() == -2.0);
}

TEST_CASE("without the entropy reward the critics' target does not depend on the temperature") {
  const InputSpec spec = InputSpec::FromEnvSpec(StateSpec(), "toy");
  // The same agent and batch at two temperatures: the first update's target moves with alpha only
  // when the entropy bonus is part of it.
  auto first_target = [&](bool entropy_reward, double alpha) {
    SacConfig config = SmallConfig();
    config.entropy_reward = entropy_reward;
    config.initial_alpha = alpha;
    SacAgent agent(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    return agent.Update(Batch(StateSpec(), 3), generator).target_mean;
  };
  CHECK(first_target(true, 0.1) != first_target(true, 10.0));
  CHECK(first_target(false, 0.1) == first_target(false, 10.0));
  CHECK(SacConfig().entropy_reward);  // the papers' SAC unless told otherwise
}

// Eight transitions whose actions are all 1.9 in the box [1, 2] (0.8 in the critics' [-1,1]); `spec`
// is StateSpec(1, 2)'s.
TensorBatch OneActionBatch(const InputSpec& spec) {
  TransitionBatch data = RandomBatch(StateSpec(/*low=*/1.0f, /*high=*/2.0f), 8, 3);
  for (float& a : data.actions.f32) a = 1.9f;
  return ToTensorBatch(data, spec, torch::kCPU, "toy");
}

TEST_CASE("behaviour cloning pulls the policy's mean action toward the data's, while its weight lasts") {
  const InputSpec spec = InputSpec::FromEnvSpec(StateSpec(/*low=*/1.0f, /*high=*/2.0f), "toy");
  const TensorBatch batch = OneActionBatch(spec);
  Observation obs;
  obs["state"] = Array::FromFloats({0.1f, -0.2f, 0.3f});
  auto mean_action_after = [&](double weight, int steps, int updates, SacUpdateStats* last) {
    SacConfig config = SmallConfig();
    config.policy_every = 1;
    config.bc_weight = weight;
    config.bc_steps = steps;
    config.actor_lr = 1e-2;
    SacAgent agent(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    for (int i = 0; i < updates; ++i) *last = agent.Update(batch, generator);
    return agent.MakePolicy(SacActionMode::kMean, 0, "m")->Act(obs, {})[0];
  };
  SacUpdateStats plain, cloned, spent;
  const float without = mean_action_after(0.0, 0, 60, &plain);
  const float with = mean_action_after(50.0, 0, 60, &cloned);
  CHECK(std::abs(with - 1.9f) < 0.1f);  // without: 0.43 away
  CHECK(std::abs(with - 1.9f) < std::abs(without - 1.9f));
  CHECK(cloned.bc_weight == 50.0);
  CHECK(cloned.bc_loss > 0.0);
  CHECK(plain.bc_loss == 0.0);
  CHECK(plain.actor_loss != cloned.actor_loss);
  // positive-return: only the rows whose episode's rewards from there on sum above 0.
  TensorBatch some = batch;
  some.return_to_go = torch::tensor({1.0f, -0.2f, 0.5f, -1.0f, -0.1f, 0.0f, -0.3f, -0.4f});
  SacConfig rows = SmallConfig();
  rows.policy_every = 1;
  rows.bc_weight = 1.0;
  rows.bc_rows = "positive-return";
  SacAgent chosen(rows, spec, torch::kCPU, 1);
  at::Generator g1 = at::detail::createCPUGenerator(5);
  const double two_rows = chosen.Update(some, g1).bc_loss;
  some.return_to_go = torch::full({8}, -0.5f);
  SacAgent none(rows, spec, torch::kCPU, 1);
  at::Generator g2 = at::detail::createCPUGenerator(5);
  CHECK(none.Update(some, g2).bc_loss == 0.0);
  CHECK(two_rows > 0.0);
  some.return_to_go = torch::Tensor();  // a source without returns (VICE's, relabelled goals')
  ExitCode code;
  CHECK(ErrorOf([&] { none.Update(some, g2); }, &code) ==
        "--sac.bc-rows positive-return needs the data's own rewards (not with --reward vice or --goals)");
  CHECK(code == ExitCode::kUsage);
  // Its weight falls to 0 after bc_steps updates: the same run as plain SAC from then on in its figures.
  mean_action_after(50.0, 10, 12, &spent);
  CHECK(spent.bc_weight == 0.0);
  CHECK(spent.bc_loss == 0.0);
  MetricsLog::Row row = StatsRow(cloned, true);
  CHECK(row.back().first == "bc_weight");
  CHECK(StatsRow(cloned, false).size() + 2 == row.size());
}

TEST_CASE("behaviour cloning with a discrete terminate clones the data's decision, and its motion where it moved") {
  const InputSpec spec = InputSpec::FromEnvSpec(TerminateSpec(), "toy");
  Observation obs;
  obs["state"] = Array::FromFloats({0.1f, -0.2f, 0.3f});
  // Every row terminates (terminate 0.5 > 0) or every row moves to dx 1.8, dy -1; the rewards are
  // all 0, so the critics prefer nothing and the cloning term decides.
  auto cloned = [&](bool stop, SacUpdateStats* last, double weight = 50.0) {
    TransitionBatch data = RandomBatch(TerminateSpec(), 8, 3);
    for (int i = 0; i < 8; ++i) {
      data.actions.f32[i * 3 + 0] = 1.8f;
      data.actions.f32[i * 3 + 1] = stop ? 0.5f : -0.5f;
      data.actions.f32[i * 3 + 2] = -1.0f;
      data.rewards[i] = 0.0f;
    }
    const TensorBatch batch = ToTensorBatch(data, spec, torch::kCPU, "toy");
    SacConfig config = DiscreteTerminateConfig();
    config.policy_every = 1;
    config.actor_lr = 1e-2;
    config.bc_weight = weight;
    config.initial_alpha = 0.01;  // the entropy bonus would hold the motion's mean near the box's centre
    SacAgent agent(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    for (int i = 0; i < 100; ++i) *last = agent.Update(batch, generator);
    return agent.MakePolicy(SacActionMode::kMean, 0, "m")->Act(obs, {});
  };
  SacUpdateStats stopping, moving;
  CHECK(cloned(true, &stopping) == std::vector<float>{1.0f, 3.0f, 0.0f});  // the canonical terminate
  const std::vector<float> moved = cloned(false, &moving);
  SacUpdateStats plain;
  const std::vector<float> unguided = cloned(false, &plain, 0.0);
  CAPTURE(moved);
  CAPTURE(unguided);
  CHECK(moved[1] == -1.0f);
  // At a state the batch does not hold: near the data's motion, nearer than without cloning.
  const auto distance = [](const std::vector<float>& a) { return std::hypot(a[0] - 1.8f, a[2] + 1.0f); };
  CHECK(distance(moved) < 0.35f);
  CHECK(distance(moved) < distance(unguided) - 0.3f);
  CHECK(stopping.terminate_prob > 0.9);
  CHECK(moving.terminate_prob < 0.1);
  CHECK(stopping.bc_loss > 0.0);
}

TEST_CASE("the conservative penalty holds the critics' values of untried actions below the data's, while its weight lasts") {
  const InputSpec spec = InputSpec::FromEnvSpec(StateSpec(/*low=*/1.0f, /*high=*/2.0f), "toy");
  const TensorBatch batch = OneActionBatch(spec);
  auto last_update = [&](double weight, int steps, int updates) {
    SacConfig config = SmallConfig();
    config.cql_weight = weight;
    config.cql_steps = steps;
    SacAgent agent(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    SacUpdateStats stats;
    for (int i = 0; i < updates; ++i) stats = agent.Update(batch, generator);
    return stats;
  };
  // A weight too small to matter measures the same figure on plain SAC.
  const SacUpdateStats first = last_update(5.0, 0, 1);
  const SacUpdateStats measured = last_update(1e-9, 0, 200);
  const SacUpdateStats conservative = last_update(5.0, 0, 200);
  CHECK(conservative.cql_weight == 5.0);
  // The soft maximum over untried actions falls below the data's action's value only with the penalty.
  CAPTURE(first.cql_penalty);
  CAPTURE(measured.cql_penalty);
  CAPTURE(conservative.cql_penalty);
  CHECK(conservative.cql_penalty < first.cql_penalty - 0.5);
  CHECK(conservative.cql_penalty < measured.cql_penalty - 0.5);
  CHECK(last_update(0.0, 0, 1).cql_penalty == 0.0);  // off: not computed
  // Its weight falls to 0 after cql_steps updates.
  const SacUpdateStats spent = last_update(5.0, 10, 12);
  CHECK(spent.cql_weight == 0.0);
  CHECK(spent.cql_penalty == 0.0);
  CHECK(last_update(5.0, 10, 6).cql_weight == doctest::Approx(2.5));  // update 5 of 10
  MetricsLog::Row row = StatsRow(conservative, false, true);
  CHECK(row.back().first == "cql_weight");
  CHECK(row[row.size() - 2].first == "cql_penalty");
  CHECK(StatsRow(conservative, false).size() + 2 == row.size());
}

TEST_CASE("actions are rescaled into the env's box") {
  const EnvSpec env = StateSpec(/*low=*/2.0f, /*high=*/6.0f);
  SacAgent learner(SmallConfig(), InputSpec::FromEnvSpec(env, "toy"), torch::kCPU, 3);
  auto policy = learner.MakePolicy(SacActionMode::kSample, 0, "live");
  Rng rng(4);
  for (int i = 0; i < 50; ++i) {
    Observation obs;
    obs["state"] = Array::FromFloats({static_cast<float>(10 * rng.Normal()), 0.0f, 1.0f});
    const std::vector<float> a = policy->Act(obs, {});
    REQUIRE(a.size() == 1);
    CHECK(a[0] >= 2.0f);
    CHECK(a[0] <= 6.0f);
  }
}

TEST_CASE("a checkpoint's policy acts like the learner: mean for evaluation and seeded samples for collection") {
  const EnvSpec env = PixelSpec();
  SacAgent learner(SmallConfig(), InputSpec::FromEnvSpec(env, "toy"), torch::kCPU, 3);
  learner.Update(Batch(env, 1), Generator());
  const CheckpointContents contents = Saved(learner);
  auto mean = LoadSacPolicy(contents, "p.ckpt", env, SacActionMode::kMean, torch::kCPU, 0);
  auto live = learner.MakePolicy(SacActionMode::kMean, 0, "live");
  CHECK(mean->id() == "checkpoint:test");
  const Observation obs = RandomObservation(env, 5);
  CHECK(mean->Act(obs, {}) == live->Act(obs, {}));
  auto sampler = LoadSacPolicy(contents, "p.ckpt", env, SacActionMode::kSample, torch::kCPU, 0);
  sampler->BeginEpisode(1);
  const auto first = sampler->Act(obs, {});
  CHECK(first != mean->Act(obs, {}));
  sampler->BeginEpisode(1);
  CHECK(sampler->Act(obs, {}) == first);
  sampler->BeginEpisode(2);
  CHECK(sampler->Act(obs, {}) != first);

  // Altered weights no longer give the stored example action.
  CheckpointContents altered = contents;
  torch::Tensor actor = TensorFromBytes(altered.blobs.at("sac.actor"), "t");
  actor.add_(0.5);
  altered.blobs["sac.actor"] = TensorToBytes(actor);
  ExitCode code;
  CHECK(ErrorOf([&] { LoadSacPolicy(altered, "p.ckpt", env, SacActionMode::kMean, torch::kCPU, 0); }, &code) ==
        "p.ckpt: the example input no longer gives the stored action (corrupt weights?)");
  CHECK(code == ExitCode::kBadData);
}

TEST_CASE("bad input: the data's action box or observation keys differ from the checkpoint's") {
  const InputSpec trained = InputSpec::FromEnvSpec(StateSpec(-1, 1), "toy");
  const std::string box = "action bounds [-1.000]..[1.0000] vs [-2.000]..[2.0000]";
  ExitCode code;
  CHECK(ErrorOf([&] { CheckSameInputs(trained, InputSpec::FromEnvSpec(StateSpec(-2, 2), "d"), "a.ckpt", "data"); },
                &code) == "a.ckpt: checkpoint does not match data: " + box + " (checkpoint vs data)");
  CHECK(code == ExitCode::kBadData);

  // Resuming or warm-starting on data of another box.
  SacAgent learner(SmallConfig(), trained, torch::kCPU, 1);
  SacAgent other(SmallConfig(), InputSpec::FromEnvSpec(StateSpec(-2, 2), "d"), torch::kCPU, 1);
  const CheckpointContents contents = Saved(learner);
  CHECK(ErrorOf([&] { other.Load(contents, "a.ckpt"); }, &code) ==
        "a.ckpt: checkpoint does not match this data: " + box + " (checkpoint vs this data)");
  CHECK(code == ExitCode::kBadData);
  CHECK(ErrorOf([&] { LoadSacPolicy(contents, "a.ckpt", StateSpec(-2, 2), SacActionMode::kMean, torch::kCPU, 0); },
                &code) == "a.ckpt: checkpoint does not match cell 'toy-state': " + box + " "
                          "(checkpoint vs cell 'toy-state')");
  CHECK(code == ExitCode::kBadData);

  // Data with another observation key.
  EnvSpec renamed = StateSpec();
  renamed.observations[0].key = "proprio";
  CHECK(ErrorOf([&] { ToTensorBatch(RandomBatch(renamed, 4, 1), trained, torch::kCPU, "data/"); }, &code) ==
        "data/: observations lack the key 'state' the network reads");
  CHECK(code == ExitCode::kBadData);
  CHECK(trained.Difference(InputSpec::FromEnvSpec(renamed, "d")) == "vector observations ['state'] vs ['proprio']");

  // A wrong shape and a NaN.
  EnvSpec wider = StateSpec();
  wider.observations[0].shape = {4};
  CHECK(ErrorOf([&] { ToTensorBatch(RandomBatch(wider, 4, 1), trained, torch::kCPU, "data/"); }, &code) ==
        "data/: observations 'state' is float32 [4, 4] but the network expects float32 [4, 3]");
  TransitionBatch nan = RandomBatch(StateSpec(), 4, 1);
  nan.rewards[2] = std::nanf("");
  CHECK(ErrorOf([&] { ToTensorBatch(nan, trained, torch::kCPU, "data/"); }, &code) == "data/: rewards holds a NaN or Inf");
  CHECK(code == ExitCode::kBadData);
}

TEST_CASE("bad input: an image-only network given state data") {
  EnvSpec image_only = PixelSpec();
  image_only.observations.pop_back();
  const InputSpec spec = InputSpec::FromEnvSpec(image_only, "toy");
  ExitCode code;
  CHECK(ErrorOf([&] { ToTensorBatch(RandomBatch(StateSpec(), 4, 1), spec, torch::kCPU, "data/"); }, &code) ==
        "data/: observations lack the key 'image' the network reads");
  CHECK(code == ExitCode::kBadData);
  SacAgent learner(SmallConfig(), spec, torch::kCPU, 1);
  CHECK(ErrorOf([&] { LoadSacPolicy(Saved(learner), "img.ckpt", StateSpec(), SacActionMode::kMean, torch::kCPU, 0); },
                &code) == "img.ckpt: checkpoint does not match cell 'toy-state': image keys ['image'] vs [] "
                          "(checkpoint vs cell 'toy-state')");
  CHECK(code == ExitCode::kBadData);
}

TEST_CASE("a non-finite loss stops the update with the diverged exit code") {
  SacAgent learner(SmallConfig(), InputSpec::FromEnvSpec(StateSpec(), "toy"), torch::kCPU, 1);
  TensorBatch batch = Batch(StateSpec(), 1);
  batch.reward[0] = std::nanf("");
  ExitCode code;
  CHECK(ErrorOf([&] { learner.Update(batch, Generator()); }, &code) == "non-finite critic loss at update 1");
  CHECK(code == ExitCode::kDiverged);
}

TEST_CASE("invalid settings are usage errors naming the flag") {
  SacConfig config = SmallConfig();
  config.tau = 0.0;
  ExitCode code;
  CHECK(ErrorOf([&] { config.Validate(""); }, &code) == "--tau must be in (0, 1]");
  CHECK(code == ExitCode::kUsage);
  config = SmallConfig();
  config.network.encoder_strides = {2};
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) ==
        "--sac.network.encoder-strides must give one stride per encoder channel entry");
  config = SmallConfig();
  config.bc_weight = -1.0;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.bc-weight must be finite and >= 0");
  CHECK(code == ExitCode::kUsage);
  config = SmallConfig();
  config.bc_steps = -5;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.bc-steps must be >= 0");
  config = SmallConfig();
  config.cql_weight = -1.0;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.cql-weight must be finite and >= 0");
  config = SmallConfig();
  config.cql_steps = -1;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.cql-steps must be >= 0");
  config = SmallConfig();
  config.cql_actions = 0;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.cql-actions must be in 1..64");
  CHECK(code == ExitCode::kUsage);
  for (double rate : {-0.1, 1.5, std::nan("")}) {
    config = AveragedConfig(rate);
    CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.policy-average must be in [0, 1]");
    CHECK(code == ExitCode::kUsage);
  }
  config = SmallConfig();
  config.network.keypoints = -1;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.network.keypoints must be 0 (off) or positive");
  CHECK(code == ExitCode::kUsage);
  config = SmallConfig();
  config.n_step = 101;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) == "--sac.n-step must be in [1, 100]");
  CHECK(code == ExitCode::kUsage);
  config = DiscreteTerminateConfig();
  config.cql_weight = 1.0;
  CHECK(ErrorOf([&] { config.Validate("sac"); }, &code) ==
        "--sac.network.discrete-terminate does not combine with the conservative penalty");
  CHECK(code == ExitCode::kUsage);
  config = DiscreteTerminateConfig();
  config.bc_weight = 1.0;  // behaviour cloning has a hybrid form
  config.Validate("sac");
}

}  // namespace
}  // namespace perpetua
