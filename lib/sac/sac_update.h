// SAC's losses as plain functions of tensors (Haarnoja et al. 2018, "Soft
// Actor-Critic Algorithms and Applications", with CleanRL's conventions), so
// each can be checked by hand on a tiny batch. Shapes: B transitions, the two
// critics stacked first ([2,B]).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

namespace perpetua {

// The soft Bellman target [B] (no gradient flows through it):
//   y = reward + gamma * (1 - terminated) * (min(q1', q2') - alpha * log pi(a'|s'))
// with a' ~ pi(.|s') and q' the target critics at (s', a'). `terminated` is 1
// where s' ends the task; a truncated (time-limit) step is 0 and bootstraps.
// reward, terminated, next_log_prob [B]; next_q [2,B]. n-step rows: `steps`
// [B] (TransitionBatch::steps; undefined = 1 each) discounts row b's
// bootstrap by gamma^steps[b] instead of gamma, its reward being the sum of
// its steps' discounted rewards.
torch::Tensor CriticTarget(const torch::Tensor& reward, const torch::Tensor& terminated, const torch::Tensor& next_q,
                           const torch::Tensor& next_log_prob, double alpha, double gamma,
                           const torch::Tensor& steps = {});
// The same from the soft value of s' [B] (no gradient):
//   y = reward + gamma^steps * (1 - terminated) * next_value.
torch::Tensor BellmanTarget(const torch::Tensor& reward, const torch::Tensor& terminated,
                            const torch::Tensor& next_value, double gamma, const torch::Tensor& steps = {});

// Sum over the two critics of the mean squared error to the target:
//   mean_b (q1 - y)^2 + mean_b (q2 - y)^2.   q [2,B], target [B] -> scalar.
torch::Tensor CriticLoss(const torch::Tensor& q, const torch::Tensor& target);

// mean_b (alpha * log pi(a~|s) - min(q1, q2)(s, a~)) with a~ ~ pi(.|s)
// reparameterised, so the gradient reaches the actor through both terms.
// log_prob [B], q [2,B] -> scalar.
torch::Tensor ActorLoss(const torch::Tensor& log_prob, const torch::Tensor& q, double alpha);

// Hybrid actions (SacNetworkConfig::discrete_terminate; Delalleau et al.
// 2019, "Discrete and Continuous Action Representation for Practical RL in
// Video Games"). On a cell whose action has a "terminate" component t
// (nn/input_spec.h) every action with a_t > 0 is the same action: the cell
// ends the episode and ignores the rest. The policy chooses it with
// probability p = sigmoid(logit) and otherwise moves with a tanh-Gaussian
// over the other M = A - 1 components; the critics read every action in one
// canonical form, so Q(s, terminate) is one value per state, learnt from
// the attempts the data made, and never the critics' guess at an untried
// corner of a continuous action space.
//
// Actions [B,A] in [-1,1]: the rows where `terminating` [B] (bool: the
// cell's rule, terminate > 0 in the env's own units, which is not a_t > 0
// when the box's terminate range is not centred on 0) become the canonical
// terminate (StopAction); the others keep their components with a_t = -1.
torch::Tensor CanonicalTerminate(const torch::Tensor& action, const torch::Tensor& terminating, int64_t t);
// The canonical terminate, `rows` times: [rows,A] zeros with a_t = 1.
torch::Tensor StopAction(int64_t rows, int64_t action_dim, int64_t t, const torch::TensorOptions& options);
// Motion [B,M] -> moving actions [B,M+1], a_t = -1 inserted at t.
torch::Tensor MovingAction(const torch::Tensor& motion, int64_t t);
// The hybrid policy's soft value per row [B]:
//   V = p (q_stop - alpha log p) + (1 - p) (q_move - alpha (log(1 - p) + log pi(motion)))
// with q_stop, q_move [2,B] the critics at the canonical terminate and at
// the moving action (the minimum of the two is taken), motion_log_prob [B]
// and logit [B]. Without gradient (next state) it is the target's soft
// value; -mean V is the actor's loss, the gradient reaching the actor
// through p exactly and through the reparameterised motion (with
// q_move = Q(s, MovingAction(motion)) and p -> 0 it is ActorLoss).
torch::Tensor HybridSoftValue(const torch::Tensor& q_move, const torch::Tensor& q_stop,
                              const torch::Tensor& motion_log_prob, const torch::Tensor& logit, double alpha);
// The hybrid policy's expected log-probability per row [B],
//   E log pi = p log p + (1 - p) (log(1 - p) + log pi(motion)),
// minus its entropy, which the temperature steers.
torch::Tensor HybridLogProb(const torch::Tensor& motion_log_prob, const torch::Tensor& logit);

// Behaviour cloning: the mean over rows and components of (tanh(mean) -
// data_action)^2, the gradient reaching the actor through `mean` (the
// pre-squash mean of pi(.|s), [B,A]); data_action [B,A] in [-1,1].
// With `row_weight` [B] (0/1: which rows are cloned), the sum over the
// chosen rows and components divided by (chosen rows * A), 0 when none is.
torch::Tensor BehaviourCloningLoss(const torch::Tensor& mean, const torch::Tensor& data_action,
                                   const torch::Tensor& row_weight = {});
// The same for the hybrid policy (discrete terminate at component t): the
// data's terminate decision is cloned by the logit [B] (binary cross-entropy
// with `terminating` [B], bool: the cell's rule applied to the data's
// action) and its motion by `mean` [B,M] (M = A - 1, the motion's pre-squash
// mean), the latter only on rows that did not terminate (the cell ignores a
// terminating action's motion):
//   sum_b w_b BCE(logit_b, term_b) / sum_b w_b
//   + sum_{b not term} w_b |tanh(mean_b) - motion(a_b)|^2 / (sum_{b not term} w_b * M)
// with w the row weights (all 1 when undefined), each part 0 when no row counts.
torch::Tensor HybridBehaviourCloningLoss(const torch::Tensor& mean, const torch::Tensor& logit,
                                         const torch::Tensor& data_action, const torch::Tensor& terminating,
                                         int64_t t, const torch::Tensor& row_weight = {});

// The weight of an annealed term (behaviour cloning, the conservative
// penalty) at update `update` (0-based): weight * (1 - update / steps) until
// `steps` updates, then 0; with steps 0 it stays weight.
double FallingWeight(double weight, int64_t steps, int64_t update);

// CQL(H)'s conservative penalty (Kumar et al. 2020, with its importance-
// sampled log-sum-exp), summed over the two critics:
//   sum_c mean_b [ log (1/N) sum_n exp(q_c(s_b, a_n) - log mu_n(a_n)) - q_c(s_b, a_b) ]
// where the N actions per state come from proposal densities mu_n (uniform
// on [-1,1]^A, pi(.|s), pi(.|s')), `sampled_q` [2,N,B] are the critics at
// them, `proposal_log_density` [N,B] their log densities (held fixed) and
// `data_q` [2,B] the critics at the data's actions. The gradient reaches the
// critics through both q terms: down on what the soft maximum favours, up
// on the data's action.
torch::Tensor ConservativePenalty(const torch::Tensor& sampled_q, const torch::Tensor& proposal_log_density,
                                  const torch::Tensor& data_q);

// The temperature loss on log alpha, J = -alpha * (mean log pi + target_entropy)
// (log pi held fixed), and its derivative by log alpha, which equals J itself.
// With entropy H = -mean log pi, J = alpha * (H - target_entropy): gradient
// descent lowers alpha while the policy is more random than the target and
// raises it while the policy is less random.
struct TemperatureLoss {
  double loss = 0.0;
  double grad = 0.0;  // dJ / d log alpha
};
TemperatureLoss ComputeTemperatureLoss(double log_alpha, double mean_log_prob, double target_entropy);

// Polyak averaging, in place: target <- (1 - tau) * target + tau * online.
// Tensors of one shape (flat parameter buffers).
void PolyakAverage(const torch::Tensor& online, torch::Tensor target, double tau);

// Adam on one scalar (the temperature), with torch::optim::Adam's arithmetic
// in double precision.
struct ScalarAdam {
  double m = 0.0, v = 0.0;  // first and second moment
  int64_t steps = 0;
  // Returns the updated value.
  double Step(double value, double grad, double learning_rate, double eps);
};

}  // namespace perpetua
