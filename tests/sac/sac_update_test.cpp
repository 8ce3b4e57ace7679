// SAC's losses, checked against values computed by hand on tiny batches.
#include "sac/sac_update.h"

#include <doctest/doctest.h>

#include <cmath>

#include "sac/sac_networks.h"

namespace perpetua {
namespace {

std::vector<float> Values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

TEST_CASE("critic target: entropy term and clipped double Q and no bootstrap after a terminated step") {
  // Transition 0 continues (a truncated step looks the same: terminated 0);
  // transition 1 ends the task.
  const torch::Tensor reward = torch::tensor({1.0f, -1.0f});
  const torch::Tensor terminated = torch::tensor({0.0f, 1.0f});
  const torch::Tensor next_q = torch::tensor({2.0f, 0.5f, 3.0f, 1.0f}).view({2, 2});  // critic 1, critic 2
  const torch::Tensor next_log_prob = torch::tensor({-1.0f, 2.0f});
  // y0 = 1 + 0.9 * (min(2, 3) - 0.5 * -1) = 3.25; y1 = -1 (no bootstrap).
  const auto y = Values(CriticTarget(reward, terminated, next_q, next_log_prob, /*alpha=*/0.5, /*gamma=*/0.9));
  CHECK(y[0] == doctest::Approx(3.25));
  CHECK(y[1] == doctest::Approx(-1.0));
  // The same continuing transition without the entropy term: 1 + 0.9 * 2.
  CHECK(Values(CriticTarget(reward, terminated, next_q, next_log_prob, 0.0, 0.9))[0] == doctest::Approx(2.8));
  // n-step rows: row 0 spans 3 steps (its reward already their discounted sum), so the bootstrap is
  // discounted by 0.9^3: 1 + 0.729 * (2 + 0.5) = 2.8225; a terminal row still does not bootstrap.
  const auto n = Values(CriticTarget(reward, terminated, next_q, next_log_prob, 0.5, 0.9, torch::tensor({3.0f, 2.0f})));
  CHECK(n[0] == doctest::Approx(1.0 + 0.729 * 2.5));
  CHECK(n[1] == doctest::Approx(-1.0));
  // Step counts of 1 are the one-step target.
  CHECK(Values(CriticTarget(reward, terminated, next_q, next_log_prob, 0.5, 0.9, torch::ones({2}))) == y);
}

TEST_CASE("hybrid actions: one canonical terminate, moving actions, and the hybrid policy's soft value by hand") {
  // Component 1 is "terminate": a row with it > 0 is the canonical terminate whatever its motion.
  const torch::Tensor action = torch::tensor({0.3f, -0.2f, 0.7f, 0.5f, 0.1f, -0.4f, -0.9f, 1.0f, 0.9f}).view({3, 3});
  CHECK(Values(CanonicalTerminate(action, action.select(1, 1).gt(0.0), 1)) ==
        std::vector<float>{0.3f, -1.0f, 0.7f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f});
  // Which rows terminate is the cell's rule in its own units, given: here only the last.
  CHECK(Values(CanonicalTerminate(action, torch::tensor({false, false, true}), 1)) ==
        std::vector<float>{0.3f, -1.0f, 0.7f, 0.5f, -1.0f, -0.4f, 0.0f, 1.0f, 0.0f});
  CHECK(Values(StopAction(2, 3, 1, torch::kFloat32)) == std::vector<float>{0, 1, 0, 0, 1, 0});
  CHECK(Values(MovingAction(torch::tensor({0.3f, 0.7f}).view({1, 2}), 1)) == std::vector<float>{0.3f, -1.0f, 0.7f});
  CHECK(Values(MovingAction(torch::tensor({0.3f, 0.7f}).view({1, 2}), 2)) == std::vector<float>{0.3f, 0.7f, -1.0f});

  // p = sigmoid(0) = 1/2; min Q moving 2, min Q terminating 0.5; log pi(motion) -1; alpha 0.2:
  // terminating 0.5 - 0.2 log 0.5 = 0.63863, moving 2 - 0.2 (log 0.5 - 1) = 2.33863, V = their mean.
  const torch::Tensor q_move = torch::tensor({2.0f, 3.0f}).view({2, 1});
  const torch::Tensor q_stop = torch::tensor({1.0f, 0.5f}).view({2, 1});
  const torch::Tensor motion_log_prob = torch::tensor({-1.0f});
  const torch::Tensor logit = torch::zeros({1}).requires_grad_(true);
  const torch::Tensor value = HybridSoftValue(q_move, q_stop, motion_log_prob, logit, 0.2);
  CHECK(value.item<double>() == doctest::Approx(0.5 * (0.5 + 0.2 * std::log(2.0)) + 0.5 * (2.0 + 0.2 * (std::log(2.0) + 1.0))));
  // dV/dlogit = p (1 - p) (terminating - moving) - alpha p (1 - p) + alpha p (1 - p) = 0.25 (0.63863 - 2.33863).
  value.sum().backward();
  CHECK(logit.grad().item<double>() == doctest::Approx(0.25 * (0.5 - 2.0 - 0.2)));
  // E log pi = p log p + (1 - p) (log(1 - p) + log pi(motion)) = log 0.5 - 0.5.
  CHECK(HybridLogProb(motion_log_prob, torch::zeros({1})).item<double>() == doctest::Approx(-std::log(2.0) - 0.5));
  // Without terminating (logit -> -inf) the value is SAC's: min Q - alpha log pi, minus the actor loss.
  const torch::Tensor never = torch::full({1}, -40.0f);
  CHECK(HybridSoftValue(q_move, q_stop, motion_log_prob, never, 0.2).item<double>() ==
        doctest::Approx(-ActorLoss(motion_log_prob, q_move, 0.2).item<double>()));
  // Bellman: y = r + gamma (1 - terminated) V'.
  CHECK(Values(BellmanTarget(torch::tensor({1.0f, -1.0f}), torch::tensor({0.0f, 1.0f}), torch::tensor({2.0f, 5.0f}),
                             0.9)) == std::vector<float>{1.0f + 0.9f * 2.0f, -1.0f});
}

TEST_CASE("critic loss: the two critics' mean squared errors summed") {
  const torch::Tensor q = torch::tensor({1.0f, 2.0f, 4.0f, 1.0f}).view({2, 2});
  const torch::Tensor target = torch::tensor({2.0f, 1.0f});
  // critic 1: (1 + 1) / 2 = 1; critic 2: (4 + 0) / 2 = 2.
  CHECK(CriticLoss(q, target).item<double>() == doctest::Approx(3.0));
}

TEST_CASE("actor loss: alpha log pi minus the smaller Q, and its gradients") {
  const torch::Tensor log_prob = torch::tensor({-1.0f, 0.5f}).requires_grad_(true);
  const torch::Tensor q = torch::tensor({2.0f, 1.0f, 3.0f, 0.0f}).view({2, 2}).requires_grad_(true);
  // ((0.2 * -1 - 2) + (0.2 * 0.5 - 0)) / 2 = -1.05
  const torch::Tensor loss = ActorLoss(log_prob, q, /*alpha=*/0.2);
  CHECK(loss.item<double>() == doctest::Approx(-1.05));
  loss.backward();
  for (float g : Values(log_prob.grad())) CHECK(g == doctest::Approx(0.1));
  // Only the smaller Q of each transition gets gradient: critic 1 for the
  // first, critic 2 for the second.
  const auto g = Values(q.grad());
  CHECK(g == std::vector<float>{-0.5f, 0.0f, 0.0f, -0.5f});
}

TEST_CASE("hybrid behaviour cloning: cross-entropy of the terminate decision plus the motion of the rows that moved") {
  // Two rows of A = 3 with terminate at t = 1: row 0 moved to (1, 0.5), row 1 terminated.
  const torch::Tensor mean = torch::tensor({0.0f, std::atanh(0.5f), 0.3f, -0.7f}).view({2, 2}).requires_grad_(true);
  const torch::Tensor logit = torch::zeros({2}).requires_grad_(true);
  const torch::Tensor data = torch::tensor({1.0f, -1.0f, 0.5f, 0.0f, 1.0f, 0.0f}).view({2, 3});
  const torch::Tensor terminating = torch::tensor({false, true});
  // Decision: BCE(0, 0) and BCE(0, 1), both ln 2, mean ln 2. Motion: row 0 only,
  // ((0 - 1)^2 + (0.5 - 0.5)^2) / 2 = 0.5; row 1's motion is ignored.
  const torch::Tensor loss = HybridBehaviourCloningLoss(mean, logit, data, terminating, 1);
  CHECK(loss.item<double>() == doctest::Approx(std::log(2.0) + 0.5));
  loss.backward();
  // d BCE / d logit = sigmoid(logit) - y, over 2 rows: row 0 is pushed toward moving, row 1 toward terminating.
  CHECK(Values(logit.grad()) == std::vector<float>{0.25f, -0.25f});
  const auto g = Values(mean.grad());
  CHECK(g[0] == doctest::Approx(-1.0));  // d/dm (tanh m - 1)^2 / 2 at m = 0
  CHECK(g[1] == doctest::Approx(0.0));
  CHECK(g[2] == 0.0f);  // the terminating row's motion gets no gradient
  CHECK(g[3] == 0.0f);
  // Row weights: only row 1 chosen (a terminating row: no motion term); none chosen: 0.
  CHECK(HybridBehaviourCloningLoss(mean, logit, data, terminating, 1, torch::tensor({0.0f, 1.0f})).item<double>() ==
        doctest::Approx(std::log(2.0)));
  CHECK(HybridBehaviourCloningLoss(mean, logit, data, terminating, 1, torch::tensor({0.0f, 0.0f})).item<double>() ==
        0.0);
}

TEST_CASE("behaviour cloning: the squared distance of tanh(mean) to the data's action, and its weight's schedule") {
  const torch::Tensor mean = torch::tensor({0.0f, std::atanh(0.5f), std::atanh(-0.5f), 0.0f}).view({2, 2}).requires_grad_(true);
  const torch::Tensor data = torch::tensor({1.0f, 0.5f, 0.5f, -1.0f}).view({2, 2});
  // ((0 - 1)^2 + 0^2 + (-0.5 - 0.5)^2 + (0 + 1)^2) / 4 = 0.75
  const torch::Tensor loss = BehaviourCloningLoss(mean, data);
  CHECK(loss.item<double>() == doctest::Approx(0.75));
  loss.backward();
  // d/dm (tanh m - a)^2 / 4 = (tanh m - a) (1 - tanh^2 m) / 2: the policy's mean moves toward the data.
  const auto g = Values(mean.grad());
  CHECK(g[0] == doctest::Approx(-0.5));
  CHECK(g[1] == doctest::Approx(0.0));
  CHECK(g[2] == doctest::Approx(-0.375));
  CHECK(g[3] == doctest::Approx(0.5));
  // Only the chosen rows: row 0's (1 + 0) over 1 row of 2 components; none chosen: 0.
  CHECK(BehaviourCloningLoss(mean, data, torch::tensor({1.0f, 0.0f})).item<double>() == doctest::Approx(0.5));
  CHECK(BehaviourCloningLoss(mean, data, torch::tensor({0.0f, 1.0f})).item<double>() == doctest::Approx(1.0));
  CHECK(BehaviourCloningLoss(mean, data, torch::tensor({0.0f, 0.0f})).item<double>() == 0.0);
  CHECK(FallingWeight(2.0, /*steps=*/0, /*update=*/1000000) == 2.0);  // 0 steps: it stays
  CHECK(FallingWeight(2.0, 100, 0) == 2.0);
  CHECK(FallingWeight(2.0, 100, 25) == doctest::Approx(1.5));
  CHECK(FallingWeight(2.0, 100, 100) == 0.0);
  CHECK(FallingWeight(2.0, 100, 5000) == 0.0);
}

TEST_CASE("conservative penalty: each critic's importance-weighted soft maximum minus its data value, and its gradients") {
  // Two critics, two sampled actions, one state; proposal log densities 0.
  const torch::Tensor sampled = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f}).view({2, 2, 1}).requires_grad_(true);
  const torch::Tensor data = torch::tensor({0.5f, 0.2f}).view({2, 1}).requires_grad_(true);
  const torch::Tensor flat = torch::zeros({2, 1});
  // critic 1: log((e + 1) / 2) - 0.5; critic 2: log(1) - 0.2.
  const torch::Tensor penalty = ConservativePenalty(sampled, flat, data);
  CHECK(penalty.item<double>() == doctest::Approx(std::log((std::exp(1.0) + 1.0) / 2.0) - 0.5 - 0.2));
  penalty.backward();
  // Down on the sampled actions by their softmax weights, up on the data's action.
  const auto g = Values(sampled.grad());
  CHECK(g[0] == doctest::Approx(std::exp(1.0) / (std::exp(1.0) + 1.0)));
  CHECK(g[1] == doctest::Approx(1.0 / (std::exp(1.0) + 1.0)));
  CHECK(g[2] == doctest::Approx(0.5));
  CHECK(g[3] == doctest::Approx(0.5));
  CHECK(Values(data.grad()) == std::vector<float>{-1.0f, -1.0f});
  // A proposal that draws an action more often weighs it less: log density 1 cancels critic 1's lead
  // (critic 1: log((1 + 1) / 2) - 0.5; critic 2: log((e^-1 + 1) / 2) - 0.2).
  const torch::Tensor weighted = ConservativePenalty(sampled.detach(), torch::tensor({1.0f, 0.0f}).view({2, 1}),
                                                     data.detach());
  CHECK(weighted.item<double>() == doctest::Approx(0.0 - 0.5 + std::log((std::exp(-1.0) + 1.0) / 2.0) - 0.2));
  // Rows are averaged: two states, the second the first's copy, give the same value.
  const torch::Tensor two = ConservativePenalty(sampled.detach().expand({2, 2, 2}), torch::zeros({2, 2}),
                                                data.detach().expand({2, 2}));
  CHECK(two.item<double>() == doctest::Approx(penalty.item<double>()));
}

TEST_CASE("temperature loss: value and sign") {
  // Entropy 1.5 (mean log pi -1.5) above the target -1, alpha 0.5:
  // J = -0.5 * (-1.5 - 1) = 1.25 > 0, so descent lowers alpha.
  const TemperatureLoss above = ComputeTemperatureLoss(std::log(0.5), /*mean_log_prob=*/-1.5, /*target=*/-1.0);
  CHECK(above.loss == doctest::Approx(-0.5 * (-1.5 - 1.0)));  // 1.25 > 0
  CHECK(above.grad == doctest::Approx(1.25));
  // Entropy -2 below the target -1: J = -0.5 * (2 - 1) = -0.5 < 0, so descent raises alpha.
  const TemperatureLoss below = ComputeTemperatureLoss(std::log(0.5), 2.0, -1.0);
  CHECK(below.loss == doctest::Approx(-0.5));
  // One Adam step moves log alpha by about the learning rate, against the gradient.
  ScalarAdam adam;
  CHECK(adam.Step(0.0, above.grad, 0.01, 1e-8) == doctest::Approx(-0.01));
  ScalarAdam adam2;
  CHECK(adam2.Step(0.0, below.grad, 0.01, 1e-8) == doctest::Approx(0.01));
}

TEST_CASE("Polyak averaging moves the target by tau towards the online values") {
  torch::Tensor target = torch::tensor({0.0f, 4.0f});
  PolyakAverage(torch::tensor({1.0f, 2.0f}), target, 0.1);
  const auto t = Values(target);
  CHECK(t[0] == doctest::Approx(0.1));
  CHECK(t[1] == doctest::Approx(3.8));
}

TEST_CASE("squashed Gaussian sample: tanh action and the log-density with its correction") {
  const torch::Tensor mean = torch::tensor({{0.0f, 0.5f}});
  const torch::Tensor log_std = torch::tensor({{0.0f, static_cast<float>(std::log(2.0))}});
  const torch::Tensor noise = torch::tensor({{0.0f, 1.0f}});
  const SquashedSample s = SampleSquashed(mean, log_std, noise);
  // u = (0, 0.5 + 2 * 1 = 2.5); action = tanh(u).
  const double u = 2.5;
  CHECK(Values(s.action)[0] == doctest::Approx(0.0));
  CHECK(Values(s.action)[1] == doctest::Approx(std::tanh(u)));
  const double log_sqrt_2pi = 0.5 * std::log(2 * M_PI);
  const double expected = (-log_sqrt_2pi) +                                                 // dim 0: N(0;0,1), tanh' = 1
                          (-0.5 - std::log(2.0) - log_sqrt_2pi - std::log(1 - std::tanh(u) * std::tanh(u)));
  CHECK(Values(s.log_prob)[0] == doctest::Approx(expected).epsilon(1e-5));
  // Far in the tail the correction stays finite (1 - tanh^2 underflows in float).
  const SquashedSample tail = SampleSquashed(torch::tensor({{30.0f}}), torch::tensor({{0.0f}}), torch::tensor({{0.0f}}));
  CHECK(std::isfinite(Values(tail.log_prob)[0]));
}

TEST_CASE("flat Adam takes torch's Adam steps") {
  torch::manual_seed(3);
  torch::nn::Linear a(3, 2), b(3, 2);
  {
    torch::NoGradGuard no_grad;
    b->weight.copy_(a->weight);
    b->bias.copy_(a->bias);
  }
  torch::optim::Adam reference(a->parameters(), torch::optim::AdamOptions(0.01));
  FlatParameters flat(b->parameters());
  FlatAdam adam(flat, 0.01, 1e-8);
  const torch::Tensor x = torch::randn({4, 3});
  for (int i = 0; i < 3; ++i) {
    reference.zero_grad();
    a->forward(x).square().sum().backward();
    reference.step();
    flat.ZeroGrad();
    b->forward(x).square().sum().backward();
    adam.Step();
  }
  CHECK(torch::allclose(a->weight, b->weight, 1e-5, 1e-6));
  CHECK(torch::allclose(a->bias, b->bias, 1e-5, 1e-6));
  // The module's parameters are views of the flat buffer.
  CHECK(flat.values().numel() == 8);
  CHECK(b->weight.data_ptr<float>() == flat.values().data_ptr<float>());
}

}  // namespace
}  // namespace perpetua
