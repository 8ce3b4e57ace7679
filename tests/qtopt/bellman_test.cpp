// Bellman targets, batch conversion and the network's input contract, on
// fixed batches with hand-computed values.
#include "qtopt/bellman.h"

#include <doctest/doctest.h>

#include <cmath>

#include "common/error.h"
#include "nn/tensor_io.h"
#include "qtopt/memory_replay.h"
#include "qtopt/q_learner.h"
#include "support/expect_error.h"

namespace perpetua {
namespace {

// Zeroes every parameter and sets the output bias: Q(s,a) = sigmoid(bias) everywhere.
void MakeConstant(QNetworkImpl& net, float bias) {
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters()) p.zero_();
  net.named_parameters()["out.bias"].fill_(bias);
}

TensorBatch FixedBatch(const QInputSpec& spec) {
  Rng rng(3);
  testing::MemorySampler sampler;
  sampler.Add(testing::ToyEpisode(1));
  sampler.Add(testing::ToyEpisode(2));
  TransitionBatch raw = sampler.Sample(4, rng);
  raw.rewards = {1.0f, 0.0f, -0.02f, 0.3f};
  raw.terminated = {1, 0, 0, 0};
  return ToTensorBatch(raw, spec, torch::kCPU, "test batch");
}

TEST_CASE("clipped double Q target equals a hand-computed value") {
  const QInputSpec spec = QInputSpec::FromEnvSpec(testing::ToySpec(), "toy");
  QNetwork t1(QNetworkConfig{}, spec), t2(QNetworkConfig{}, spec);
  MakeConstant(*t1, 0.0f);                              // Q1 = 0.5
  MakeConstant(*t2, static_cast<float>(std::log(3.0)));  // Q2 = 0.75: the min is Q1
  BellmanConfig bellman;
  bellman.gamma = 0.9;
  bellman.step_penalty = 0.01;
  CemConfig cem;
  at::Generator gen = at::detail::createCPUGenerator(0);
  TargetStats stats;
  const torch::Tensor target = ComputeTargets(FixedBatch(spec), *t1, *t2, cem, bellman, gen, &stats);
  // terminal: 1 - 0.01; others: r - 0.01 + 0.9 * min(0.5, 0.75)
  const std::vector<float> expected = {0.99f, 0.44f, 0.42f, 0.74f};
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(target[i].item<float>() == doctest::Approx(expected[i]).epsilon(1e-5));
  }
  CHECK(stats.next_value_mean == doctest::Approx(0.5).epsilon(1e-5));
  CHECK(stats.terminal_fraction == doctest::Approx(0.25));
  // Swapping the networks changes nothing: the min is symmetric.
  at::Generator gen2 = at::detail::createCPUGenerator(0);
  CHECK(torch::allclose(ComputeTargets(FixedBatch(spec), *t2, *t1, cem, bellman, gen2), target));
}

TEST_CASE("targets use the minimum of both target networks at target 1's CEM action") {
  const QInputSpec spec = QInputSpec::FromEnvSpec(testing::ToySpec(), "toy");
  torch::manual_seed(7);
  QNetwork t1(QNetworkConfig{}, spec), t2(QNetworkConfig{}, spec);
  const TensorBatch batch = FixedBatch(spec);
  BellmanConfig bellman;
  CemConfig cem;
  at::Generator gen = at::detail::createCPUGenerator(11);
  const torch::Tensor target = ComputeTargets(batch, *t1, *t2, cem, bellman, gen);
  at::Generator same = at::detail::createCPUGenerator(11);
  torch::NoGradGuard no_grad;
  const torch::Tensor best = MaximizeQ(*t1, batch.next_image, batch.next_proprio, cem, same);
  const torch::Tensor q1 = torch::sigmoid(t1->forward(batch.next_image, batch.next_proprio, best));
  const torch::Tensor q2 = torch::sigmoid(t2->forward(batch.next_image, batch.next_proprio, best));
  const torch::Tensor expected = (batch.reward + 0.9 * (1 - batch.terminated) * torch::min(q1, q2)).clamp(0, 1);
  CHECK(torch::allclose(target, expected, 1e-5, 1e-6));
  // The CEM action scores at least as well as the mean action under target 1.
  const torch::Tensor centre = torch::zeros_like(best);
  CHECK((t1->forward(batch.next_image, batch.next_proprio, best) >=
         t1->forward(batch.next_image, batch.next_proprio, centre) - 1e-6).all().item<bool>());
}

std::string BadDataMessage(const std::function<void()>& fn) { return testing::ExpectError(fn, ExitCode::kBadData); }

TEST_CASE("batches whose shapes do not match the network are refused by name") {
  const QInputSpec spec = QInputSpec::FromEnvSpec(testing::ToySpec(16), "toy");
  testing::MemorySampler other;
  other.Add(testing::ToyEpisode(1, /*size=*/8));
  Rng rng(1);
  const TransitionBatch small = other.Sample(2, rng);
  CHECK(BadDataMessage([&] { ToTensorBatch(small, spec, torch::kCPU, "d/shard.h5"); }) ==
        "d/shard.h5: observations 'image' is uint8 [2, 8, 8, 3] but the network expects uint8 [2, 16, 16, 3]");
  testing::MemorySampler nan;
  nan.Add(testing::ToyEpisode(1, 16, /*nan_proprio=*/true));
  TransitionBatch with_nan = nan.Sample(1, rng);
  with_nan.observations["proprio"].f32[1] = NAN;
  CHECK(BadDataMessage([&] { ToTensorBatch(with_nan, spec, torch::kCPU, "d"); }) ==
        "d: observations 'proprio' holds a NaN or Inf");
  TransitionBatch missing = small;
  missing.observations.erase("image");
  CHECK(BadDataMessage([&] { ToTensorBatch(missing, spec, torch::kCPU, "d"); }) ==
        "d: observations lack the key 'image' the network reads");
}

TEST_CASE("the network input spec needs exactly one image") {
  EnvSpec spec = testing::ToySpec();
  spec.observations.push_back({"wrist", DType::kUint8, {16, 16, 3}});
  CHECK(BadDataMessage([&] { QInputSpec::FromEnvSpec(spec, "cell"); }) ==
        "cell: QT-Opt takes one image but the data has two ('image' and 'wrist')");
  spec.observations = {{"proprio", DType::kFloat32, {2}}};
  CHECK(BadDataMessage([&] { QInputSpec::FromEnvSpec(spec, "cell"); }) ==
        "cell: QT-Opt needs an [H,W,3] uint8 image observation");
  // Vector keys are read in key order whatever order the spec lists them in.
  EnvSpec a = testing::ToySpec(), b = testing::ToySpec();
  a.observations.push_back({"arm", DType::kFloat32, {3}});
  b.observations.insert(b.observations.begin(), {"arm", DType::kFloat32, {3}});
  CHECK(QInputSpec::FromEnvSpec(a, "a").Difference(QInputSpec::FromEnvSpec(b, "b")) == "");
}

TEST_CASE("the conservative term lowers Q on actions the data never tried") {
  // Same batch, same seed: with the CQL term, Q of random actions ends lower
  // relative to the data actions than without it.
  const QInputSpec spec = QInputSpec::FromEnvSpec(testing::ToySpec(), "toy");
  const TensorBatch batch = FixedBatch(spec);
  const torch::Tensor target = torch::tensor({0.6f, 0.6f, 0.6f, 0.6f});
  auto gap_after_training = [&](double weight, UpdateStats* last) {
    OptimizerConfig optim;
    optim.conservative_weight = weight;
    optim.conservative_samples = 16;
    QLearner learner(QNetworkConfig{}, spec, optim, BellmanConfig{}, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    for (int i = 0; i < 60; ++i) *last = learner.Update(batch.image, batch.proprio, batch.action, target, generator);
    torch::NoGradGuard no_grad;
    at::Generator probe = at::detail::createCPUGenerator(9);
    const int64_t n = 64;
    const torch::Tensor random = torch::rand({batch.image.size(0) * n, spec.action_dim()}, probe) * 2 - 1;
    const torch::Tensor e = learner.online().Embed(batch.image);
    const double random_q =
        torch::sigmoid(learner.online().Head(e.repeat_interleave(n, 0), batch.proprio.repeat_interleave(n, 0), random))
            .mean()
            .item<double>();
    const double data_q = torch::sigmoid(learner.online().Head(e, batch.proprio, batch.action)).mean().item<double>();
    return data_q - random_q;
  };
  UpdateStats plain, conservative;
  const double gap_plain = gap_after_training(0.0, &plain);
  const double gap_conservative = gap_after_training(1.0, &conservative);
  CHECK(plain.conservative == 0.0);
  CHECK(conservative.conservative > 0.0);
  CHECK(gap_conservative > gap_plain + 0.05);
  OptimizerConfig bad;
  bad.conservative_weight = -1;
  CHECK_THROWS_WITH(bad.Validate("optim"), "--optim.conservative-weight must be >= 0");
}

TEST_CASE("a gradient step lowers the loss on a fixed batch and moves target 1 by tau") {
  const QInputSpec spec = QInputSpec::FromEnvSpec(testing::ToySpec(), "toy");
  BellmanConfig bellman;
  bellman.tau = 0.5;
  bellman.lag_steps = 2;
  QLearner learner(QNetworkConfig{}, spec, OptimizerConfig{}, bellman, torch::kCPU, 1);
  const TensorBatch batch = FixedBatch(spec);
  const torch::Tensor target = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f});
  at::Generator generator = at::detail::createCPUGenerator(5);
  const auto before = learner.target2().named_parameters()["out.bias"].clone();
  const UpdateStats first = learner.Update(batch.image, batch.proprio, batch.action, target, generator);
  CHECK(torch::equal(learner.target2().named_parameters()["out.bias"], before));  // lag 2: unchanged after 1 step
  UpdateStats last;
  for (int i = 0; i < 30; ++i) last = learner.Update(batch.image, batch.proprio, batch.action, target, generator);
  CHECK(last.loss < first.loss);
  CHECK(learner.step() == 31);
  const auto online = learner.online().named_parameters()["out.bias"];
  const auto t1 = learner.target1().named_parameters()["out.bias"];
  CHECK((online - t1).abs().item<float>() < (online - before).abs().item<float>() + 1e-6f);
}

}  // namespace
}  // namespace perpetua
