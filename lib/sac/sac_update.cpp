#include "sac/sac_update.h"

#include <cmath>

namespace perpetua {

torch::Tensor CriticTarget(const torch::Tensor& reward, const torch::Tensor& terminated, const torch::Tensor& next_q,
                           const torch::Tensor& next_log_prob, double alpha, double gamma,
                           const torch::Tensor& steps) {
  torch::NoGradGuard no_grad;
  return BellmanTarget(reward, terminated, std::get<0>(next_q.min(0)).sub_(next_log_prob, alpha), gamma, steps);
}

torch::Tensor BellmanTarget(const torch::Tensor& reward, const torch::Tensor& terminated,
                            const torch::Tensor& next_value, double gamma, const torch::Tensor& steps) {
  torch::NoGradGuard no_grad;
  torch::Tensor keep = terminated.neg().add(1.0);
  if (steps.defined()) {
    keep.mul_(torch::pow(gamma, steps));
  } else {
    keep.mul_(gamma);
  }
  return torch::addcmul(reward, keep, next_value);
}

torch::Tensor CanonicalTerminate(const torch::Tensor& action, const torch::Tensor& terminating, int64_t t) {
  torch::Tensor moving = action.clone();
  moving.select(1, t).fill_(-1.0);
  return torch::where(terminating.unsqueeze(1),
                      StopAction(action.size(0), action.size(1), t, action.options()), moving);
}

torch::Tensor StopAction(int64_t rows, int64_t action_dim, int64_t t, const torch::TensorOptions& options) {
  torch::Tensor stop = torch::zeros({rows, action_dim}, options);
  stop.select(1, t).fill_(1.0);
  return stop;
}

torch::Tensor MovingAction(const torch::Tensor& motion, int64_t t) {
  const int64_t m = motion.size(1);
  return torch::cat({motion.narrow(1, 0, t), torch::full({motion.size(0), 1}, -1.0, motion.options()),
                     motion.narrow(1, t, m - t)},
                    1);
}

torch::Tensor HybridSoftValue(const torch::Tensor& q_move, const torch::Tensor& q_stop,
                              const torch::Tensor& motion_log_prob, const torch::Tensor& logit, double alpha) {
  const torch::Tensor p = torch::sigmoid(logit);
  const torch::Tensor log_p = torch::log_sigmoid(logit), log_not_p = torch::log_sigmoid(-logit);
  const torch::Tensor stop = std::get<0>(q_stop.min(0)) - log_p * alpha;
  const torch::Tensor move = std::get<0>(q_move.min(0)) - (log_not_p + motion_log_prob) * alpha;
  return p * stop + (1.0 - p) * move;
}

torch::Tensor HybridLogProb(const torch::Tensor& motion_log_prob, const torch::Tensor& logit) {
  const torch::Tensor p = torch::sigmoid(logit);
  return p * torch::log_sigmoid(logit) + (1.0 - p) * (torch::log_sigmoid(-logit) + motion_log_prob);
}

torch::Tensor CriticLoss(const torch::Tensor& q, const torch::Tensor& target) {
  // The mean over both critics' [2,B] errors is half the sum of their means.
  return (q - target.unsqueeze(0)).square().mean().mul(2.0);
}

torch::Tensor ActorLoss(const torch::Tensor& log_prob, const torch::Tensor& q, double alpha) {
  return (log_prob * alpha - std::get<0>(q.min(0))).mean();
}

torch::Tensor BehaviourCloningLoss(const torch::Tensor& mean, const torch::Tensor& data_action,
                                   const torch::Tensor& row_weight) {
  const torch::Tensor squared = (torch::tanh(mean) - data_action).square();
  if (!row_weight.defined()) return squared.mean();
  const torch::Tensor chosen = row_weight.sum().clamp_min(1.0).mul(mean.size(1));
  return (squared * row_weight.unsqueeze(1)).sum().div(chosen);
}

torch::Tensor HybridBehaviourCloningLoss(const torch::Tensor& mean, const torch::Tensor& logit,
                                         const torch::Tensor& data_action, const torch::Tensor& terminating,
                                         int64_t t, const torch::Tensor& row_weight) {
  const int64_t a = data_action.size(1);
  const torch::Tensor weight = row_weight.defined() ? row_weight : torch::ones({logit.size(0)}, logit.options());
  const torch::Tensor stop = terminating.to(logit.scalar_type());
  const torch::Tensor decision =
      (torch::binary_cross_entropy_with_logits(logit, stop, {}, {}, at::Reduction::None) * weight).sum().div(
          weight.sum().clamp_min(1.0));
  const torch::Tensor data_motion =
      torch::cat({data_action.narrow(1, 0, t), data_action.narrow(1, t + 1, a - t - 1)}, 1);
  return decision + BehaviourCloningLoss(mean, data_motion, weight * (1.0 - stop));
}

double FallingWeight(double weight, int64_t steps, int64_t update) {
  if (steps == 0) return weight;
  if (update >= steps) return 0.0;
  return weight * (1.0 - static_cast<double>(update) / static_cast<double>(steps));
}

torch::Tensor ConservativePenalty(const torch::Tensor& sampled_q, const torch::Tensor& proposal_log_density,
                                  const torch::Tensor& data_q) {
  const double log_n = std::log(static_cast<double>(sampled_q.size(1)));
  const torch::Tensor soft_max = (sampled_q - proposal_log_density.detach().unsqueeze(0)).logsumexp(1).sub(log_n);
  return (soft_max - data_q).mean(1).sum();
}

TemperatureLoss ComputeTemperatureLoss(double log_alpha, double mean_log_prob, double target_entropy) {
  TemperatureLoss result;
  result.loss = -std::exp(log_alpha) * (mean_log_prob + target_entropy);
  result.grad = result.loss;  // d alpha / d log alpha = alpha
  return result;
}

void PolyakAverage(const torch::Tensor& online, torch::Tensor target, double tau) {
  torch::NoGradGuard no_grad;
  target.lerp_(online, tau);
}

double ScalarAdam::Step(double value, double grad, double learning_rate, double eps) {
  constexpr double kBeta1 = 0.9, kBeta2 = 0.999;
  ++steps;
  m = kBeta1 * m + (1.0 - kBeta1) * grad;
  v = kBeta2 * v + (1.0 - kBeta2) * grad * grad;
  const double correction1 = 1.0 - std::pow(kBeta1, static_cast<double>(steps));
  const double correction2 = 1.0 - std::pow(kBeta2, static_cast<double>(steps));
  return value - learning_rate / correction1 * m / (std::sqrt(v) / std::sqrt(correction2) + eps);
}

}  // namespace perpetua
