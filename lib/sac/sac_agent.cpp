#include "sac/sac_agent.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/error.h"
#include "nn/image_augment.h"
#include "nn/row_draws.h"
#include "nn/tensor_io.h"
#include "sac/sac_policy.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

const nlohmann::json& Field(const nlohmann::json& json, const char* key, const std::string& source) {
  if (!json.is_object() || !json.contains(key)) Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + key + "'");
  return json.at(key);
}

// The fixed example input of exported policies: 2 states from a constant seed.
void ExampleInput(const InputSpec& spec, torch::Tensor* images, torch::Tensor* vectors) {
  at::Generator generator = at::detail::createCPUGenerator(20261201);
  const int64_t channels = 3 * static_cast<int64_t>(spec.image_keys.size());
  *images = !spec.image_keys.empty() ? at::randint(0, 256, {2, spec.height, spec.width, channels}, generator,
                                            torch::TensorOptions().dtype(torch::kLong))
                                    .to(torch::kUInt8)
                              : torch::Tensor();
  *vectors = at::randn({2, spec.proprio_dim}, generator, torch::TensorOptions().dtype(torch::kFloat32));
}

}  // namespace

SacAgent::SacAgent(const SacConfig& config, const InputSpec& spec, const torch::Device& device, uint64_t seed)
    : config_(config),
      spec_(spec),
      device_(device),
      terminate_index_(DiscreteTerminateIndex(config.network, spec)),
      // Minus the continuous dimensions: with a discrete terminate, the motion's.
      target_entropy_(config.target_entropy != 0.0
                          ? config.target_entropy
                          : -static_cast<double>(spec.action_dim() - (terminate_index_ >= 0 ? 1 : 0))),
      log_alpha_(std::log(config.initial_alpha)) {
  config.Validate("");
  torch::manual_seed(seed);
  int64_t input_dim = spec.proprio_dim;
  std::vector<torch::Tensor> critic_parameters;
  if (!spec.image_keys.empty()) {
    encoder_ = SacEncoder(config.network, spec);
    encoder_->to(device);
    input_dim += config.network.EncoderOutputDim();
    critic_parameters = encoder_->parameters();
  }
  actor_ = MakeActor(input_dim, config.network, spec);
  critic_ = TwinCritic(input_dim, config.network, spec.action_dim());
  target_critic_ = TwinCritic(input_dim, config.network, spec.action_dim());
  actor_->to(device);
  critic_->to(device);
  target_critic_->to(device);
  for (const auto& p : critic_parameters) encoder_size_ += p.numel();
  for (const auto& p : critic_->parameters()) critic_parameters.push_back(p);
  critic_params_ = FlatParameters(critic_parameters);
  actor_params_ = FlatParameters(actor_->parameters());
  target_params_ = FlatParameters(target_critic_->parameters());
  critic_head_values_ = critic_params_.values().narrow(0, encoder_size_, target_params_.values().numel());
  {
    torch::NoGradGuard no_grad;
    target_params_.values().copy_(critic_head_values_);
  }
  critic_adam_ = FlatAdam(critic_params_, config.critic_lr, config.adam_eps);
  actor_adam_ = FlatAdam(actor_params_, config.actor_lr, config.adam_eps);
  const torch::Tensor low = torch::tensor(spec.action_low), high = torch::tensor(spec.action_high);
  acting_ = {encoder_, actor_, ((high + low) / 2).to(device), ((high - low) / 2).to(device), terminate_index_};
  if (config.policy_average > 0.0) {
    // Made last: their random initial weights (overwritten at once) do not
    // change the draws of the live networks'.
    average_acting_ = acting_;
    std::vector<torch::Tensor> average_parameters;
    if (encoder_) {
      average_acting_.encoder = SacEncoder(config.network, spec);
      average_acting_.encoder->to(device);
      average_acting_.encoder->eval();
      average_parameters = average_acting_.encoder->parameters();
    }
    average_acting_.actor = MakeActor(input_dim, config.network, spec);
    average_acting_.actor->to(device);
    average_acting_.actor->eval();
    for (const auto& p : average_acting_.actor->parameters()) average_parameters.push_back(p);
    average_params_ = FlatParameters(average_parameters);
    ResetAverage();
  }
  last_actor_.alpha = alpha();
}

void SacAgent::ResetAverage() {
  if (config_.policy_average <= 0.0) return;
  torch::NoGradGuard no_grad;
  const torch::Tensor average = average_params_.values();
  average.narrow(0, 0, encoder_size_).copy_(critic_params_.values().narrow(0, 0, encoder_size_));
  average.narrow(0, encoder_size_, actor_params_.values().numel()).copy_(actor_params_.values());
}

void SacAgent::UpdateAverage() {
  if (config_.policy_average <= 0.0) return;
  const double rate = std::max(config_.policy_average, 1.0 / static_cast<double>(updates_));
  const torch::Tensor average = average_params_.values();
  PolyakAverage(critic_params_.values().narrow(0, 0, encoder_size_), average.narrow(0, 0, encoder_size_), rate);
  PolyakAverage(actor_params_.values(), average.narrow(0, encoder_size_, actor_params_.values().numel()), rate);
}

double SacAgent::alpha() const { return std::exp(log_alpha_); }

torch::Tensor SacAgent::Features(const torch::Tensor& images, const torch::Tensor& vectors) {
  return encoder_ ? torch::cat({encoder_->forward(images), vectors}, 1) : vectors;
}

SacUpdateStats SacAgent::Update(const TensorBatch& batch, at::Generator& generator) {
  const auto start = Clock::now();
  const double alpha = std::exp(log_alpha_);
  torch::Tensor images = batch.image, next_image = batch.next_image;
  if (encoder_ && config_.augment_shift > 0) {
    images = RandomShift(images, config_.augment_shift, generator);
    next_image = RandomShift(next_image, config_.augment_shift, generator);
  }
  const bool actor_step = (updates_ + 1) % config_.policy_every == 0;
  const torch::Tensor x = Features(images, batch.proprio);
  torch::Tensor next_x;
  {
    torch::NoGradGuard no_grad;
    next_x = Features(next_image, batch.next_proprio);
  }
  // The conservative penalty's weight in this update (the counter advances below).
  const double cql_weight = FallingWeight(config_.cql_weight, config_.cql_steps, updates_);
  // a' ~ pi(.|s') for the target and, on actor steps, a~ ~ pi(.|s) for the
  // actor loss, from one actor pass over [s'; s] (the critic step does not
  // change the actor, so this equals two passes; one costs half the dispatch).
  // The conservative penalty draws its own actions from the same pass.
  const int64_t b = batch.size();
  const bool both_states = actor_step || cql_weight > 0.0;
  SquashedSample next, current;
  torch::Tensor next_logit, current_logit;  // with a discrete terminate: its logit at s' and s
  torch::Tensor current_mean;           // pre-squash mean of pi(.|s) on actor steps (behaviour cloning)
  torch::Tensor policy_mean, policy_log_std;  // pi over [s'; s], held fixed, for the conservative penalty
  {
    torch::AutoGradMode gradient_for_actor_step(actor_step);
    torch::Tensor mean, log_std, logit;
    actor_->forward(both_states ? torch::cat({next_x, x.detach()}) : next_x, &mean, &log_std, &logit);
    // [2,b,a] (next, current) or [b,a]: the batch rows are dimension 1 or 0.
    const int64_t a = mean.size(1);
    const int64_t sampled = actor_step ? 2 * b : b;
    const torch::Tensor noise = (actor_step ? RowRandn({2, b, a}, generator, 1) : RowRandn({b, a}, generator))
                                    .view({sampled, a})
                                    .to(device_);
    const SquashedSample both = SampleSquashed(mean.narrow(0, 0, sampled), log_std.narrow(0, 0, sampled), noise);
    next = {both.action.narrow(0, 0, b).detach(), both.log_prob.narrow(0, 0, b).detach()};
    if (logit.defined()) next_logit = logit.narrow(0, 0, b).detach();
    if (actor_step) {
      current = {both.action.narrow(0, b, b), both.log_prob.narrow(0, b, b)};
      current_mean = mean.narrow(0, b, b);
      if (logit.defined()) current_logit = logit.narrow(0, b, b);
    }
    if (cql_weight > 0.0) {
      policy_mean = mean.detach();
      policy_log_std = log_std.detach();
    }
  }
  const double target_alpha = config_.entropy_reward ? alpha : 0.0;
  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    if (terminate_index_ >= 0) {
      const torch::Tensor q_next = HybridQ(*target_critic_, next_x, next.action);
      target = BellmanTarget(batch.reward, batch.terminated,
                             HybridSoftValue(q_next.narrow(1, 0, b), q_next.narrow(1, b, b), next.log_prob,
                                             next_logit, target_alpha),
                             config_.gamma, batch.steps);
    } else {
      target = CriticTarget(batch.reward, batch.terminated, target_critic_->forward(next_x, next.action),
                            next.log_prob, target_alpha, config_.gamma, batch.steps);
    }
  }
  torch::Tensor data_action = (batch.action - acting_.center).div_(acting_.scale);
  torch::Tensor data_terminates;  // [B] bool, with a discrete terminate: the cell's rule, in its own units
  if (terminate_index_ >= 0) {
    data_terminates = batch.action.select(1, terminate_index_).gt(0.0);
    data_action = CanonicalTerminate(data_action, data_terminates, terminate_index_);
  }
  const torch::Tensor q = critic_->forward(x, data_action);
  const torch::Tensor critic_loss = CriticLoss(q, target);
  const torch::Tensor penalty = cql_weight > 0.0 ? Conservative(x, policy_mean, policy_log_std, q, generator)
                                                 : torch::zeros({}, critic_loss.options());
  const auto forward_done = Clock::now();
  critic_params_.ZeroGrad();
  (cql_weight > 0.0 ? critic_loss + penalty * cql_weight : critic_loss).backward();
  if (collective_) collective_->AverageGradients({critic_params_.grads()});
  const auto backward_done = Clock::now();
  critic_adam_.Step();
  PolyakAverage(critic_head_values_, target_params_.values(), config_.tau);
  ++updates_;
  const auto critic_done = Clock::now();
  times_.forward += Seconds(start, forward_done);
  times_.backward += Seconds(forward_done, backward_done);
  times_.optimizer += Seconds(backward_done, critic_done);

  const torch::Tensor q_values = q.detach();
  std::vector<torch::Tensor> figures = {critic_loss.detach(), q_values.mean(), q_values.min(), q_values.max(),
                                        target.mean(), critic_params_.values().sum(), penalty.detach()};
  // The update counter was advanced above: the weight of update updates_ - 1.
  const double bc_weight = FallingWeight(config_.bc_weight, config_.bc_steps, updates_ - 1);
  if (actor_step) {
    // The updated critics judge the actor's actions; features of s detached.
    torch::Tensor actor_loss, log_prob, stop_prob;  // log_prob: the policy's (expected) log-probability [B]
    if (terminate_index_ >= 0) {
      const torch::Tensor q_both = HybridQ(*critic_, x.detach(), current.action);
      actor_loss =
          HybridSoftValue(q_both.narrow(1, 0, b), q_both.narrow(1, b, b), current.log_prob, current_logit, alpha)
              .mean()
              .neg();
      log_prob = HybridLogProb(current.log_prob, current_logit).detach();
      stop_prob = torch::sigmoid(current_logit.detach()).mean();
    } else {
      actor_loss = ActorLoss(current.log_prob, critic_->forward(x.detach(), current.action), alpha);
      log_prob = current.log_prob.detach();
      stop_prob = torch::zeros({}, actor_loss.options());
    }
    torch::Tensor rows;  // which rows are cloned (undefined: all)
    if (bc_weight > 0.0 && config_.bc_rows == "positive-return") {
      if (!batch.return_to_go.defined()) {
        Fail(ExitCode::kUsage, "--sac.bc-rows positive-return needs the data's own rewards (not with --reward vice "
                               "or --goals)");
      }
      rows = batch.return_to_go.gt(0.0).to(torch::kFloat32);
    }
    torch::Tensor bc_loss = torch::zeros({}, actor_loss.options());
    if (bc_weight > 0.0 && terminate_index_ >= 0) {
      bc_loss = HybridBehaviourCloningLoss(current_mean, current_logit, data_action.clamp(-1.0, 1.0),
                                           data_terminates, terminate_index_, rows);
    } else if (bc_weight > 0.0) {
      bc_loss = BehaviourCloningLoss(current_mean, data_action.clamp(-1.0, 1.0), rows);
    }
    const auto actor_forward_done = Clock::now();
    actor_params_.ZeroGrad();
    (bc_weight > 0.0 ? actor_loss + bc_loss * bc_weight : actor_loss)
        .backward({}, /*retain_graph=*/false, /*create_graph=*/false, torch::TensorList(actor_params_.parameters()));
    if (collective_) collective_->AverageGradients({actor_params_.grads()});
    const auto actor_backward_done = Clock::now();
    actor_adam_.Step();
    figures.insert(figures.end(), {actor_loss.detach(), log_prob.mean(), actor_params_.values().sum(),
                                   bc_loss.detach(), stop_prob});
    times_.forward += Seconds(critic_done, actor_forward_done);
    times_.backward += Seconds(actor_forward_done, actor_backward_done);
  }
  const auto figures_start = Clock::now();
  // One read of every figure (and the NaN guard's sums).
  const torch::Tensor host = torch::stack(figures).to(torch::kCPU, torch::kDouble);
  const double* f = host.data_ptr<double>();
  for (int64_t i = 0; i < host.numel(); ++i) {
    if (!std::isfinite(f[i])) {
      static const char* kWhat[] = {"critic loss", "Q value", "Q value", "Q value", "target",
                                    "critic parameters", "conservative penalty", "actor loss", "log-probability",
                                    "actor parameters", "behaviour-cloning loss", "terminate probability"};
      Fail(ExitCode::kDiverged, std::string("non-finite ") + kWhat[i] + " at update " + std::to_string(updates_));
    }
  }
  SacUpdateStats stats = last_actor_;
  stats.critic_loss = f[0];
  stats.q_mean = f[1];
  stats.q_min = f[2];
  stats.q_max = f[3];
  stats.target_mean = f[4];
  stats.cql_penalty = f[6];
  stats.cql_weight = cql_weight;
  stats.alpha = alpha;
  stats.actor_updated = actor_step;
  if (actor_step) {
    // The whole batch's entropy: every rank's temperature takes the same step.
    const double mean_log_prob = collective_ ? collective_->Mean(f[8]) : f[8];
    const TemperatureLoss temperature = ComputeTemperatureLoss(log_alpha_, mean_log_prob, target_entropy_);
    log_alpha_ = alpha_adam_.Step(log_alpha_, temperature.grad, config_.alpha_lr, config_.adam_eps);
    stats.actor_loss = f[7];
    stats.entropy = -f[8];
    stats.alpha_loss = temperature.loss;
    stats.bc_loss = f[10];
    stats.bc_weight = bc_weight;
    stats.terminate_prob = f[11];
    last_actor_ = stats;
  }
  UpdateAverage();
  times_.optimizer += Seconds(figures_start, Clock::now());
  return stats;
}

torch::Tensor SacAgent::HybridQ(TwinCriticImpl& critic, const torch::Tensor& x, const torch::Tensor& motion) const {
  const int64_t b = x.size(0);
  return critic.forward(torch::cat({x, x}),
                        torch::cat({MovingAction(motion, terminate_index_),
                                    StopAction(b, spec_.action_dim(), terminate_index_, motion.options())}));
}

torch::Tensor SacAgent::Conservative(const torch::Tensor& x, const torch::Tensor& mean, const torch::Tensor& log_std,
                                     const torch::Tensor& data_q, at::Generator& generator) {
  const int64_t b = x.size(0), k = config_.cql_actions, a = spec_.action_dim();
  torch::Tensor actions, log_density;  // [3k,b,a] and [3k,b]: uniform, pi(.|s'), pi(.|s)
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor noise = RowRandn({2, b, k, a}, generator, 1).to(device_);
    const SquashedSample drawn =
        SampleSquashed(mean.view({2, b, 1, a}).expand({2, b, k, a}).reshape({2 * b * k, a}),
                       log_std.view({2, b, 1, a}).expand({2, b, k, a}).reshape({2 * b * k, a}),
                       noise.reshape({2 * b * k, a}));
    // [2,b,k,a] -> [2,k,b,a] -> [2k,b,a] (s''s k draws, then s's).
    const torch::Tensor policy_actions = drawn.action.view({2, b, k, a}).permute({0, 2, 1, 3}).reshape({2 * k, b, a});
    const torch::Tensor policy_log = drawn.log_prob.view({2, b, k}).permute({0, 2, 1}).reshape({2 * k, b});
    const torch::Tensor uniform = RowRand({b, k, a}, generator).to(device_).mul(2.0).sub(1.0).permute({1, 0, 2});
    actions = torch::cat({uniform, policy_actions});
    // The uniform density on [-1,1]^a is 2^-a.
    log_density = torch::cat({torch::full({k, b}, -static_cast<double>(a) * std::log(2.0), policy_log.options()),
                              policy_log});
  }
  const int64_t n = 3 * k;
  const torch::Tensor q = critic_->forward(x.unsqueeze(0).expand({n, b, x.size(1)}).reshape({n * b, x.size(1)}),
                                           actions.reshape({n * b, a}));
  return ConservativePenalty(q.view({2, n, b}), log_density, data_q);
}

std::vector<torch::Tensor> SacAgent::ReplicatedState() const {
  return {critic_params_.values(), actor_params_.values(), target_params_.values(), critic_adam_.Moments(),
          actor_adam_.Moments(), torch::tensor({log_alpha_}, torch::kDouble)};
}

void SacAgent::Save(CheckpointContents* contents) const {
  ExportPolicy(contents);
  contents->blobs["sac.target_critic"] = TensorToBytes(target_params_.values());
  contents->blobs["sac.critic_adam"] = TensorToBytes(critic_adam_.Moments());
  contents->blobs["sac.actor_adam"] = TensorToBytes(actor_adam_.Moments());
  contents->metadata["step"] = updates_;
  contents->metadata["sac_state"] = {
      {"updates", updates_},
      {"log_alpha", log_alpha_},
      {"alpha_adam", {alpha_adam_.m, alpha_adam_.v, alpha_adam_.steps}},
      {"critic_adam_steps", critic_adam_.steps()},
      {"actor_adam_steps", actor_adam_.steps()},
      {"last_actor",
       {last_actor_.actor_loss, last_actor_.alpha_loss, last_actor_.entropy, last_actor_.bc_loss, last_actor_.bc_weight,
        last_actor_.terminate_prob}},
  };
}

void SacAgent::Load(const CheckpointContents& contents, const std::string& source) {
  InitFrom(contents, source);
  LoadFlatBlob(contents, "sac.target_critic", target_params_.values(), source);
  // A checkpoint written without averaging starts the average from its live weights.
  if (config_.policy_average > 0.0 && contents.blobs.count("sac.policy_average")) {
    LoadFlatBlob(contents, "sac.policy_average", average_params_.values(), source);
  }
  const nlohmann::json& state = Field(contents.metadata, "sac_state", source);
  auto moments = [&](const char* name, const FlatParameters& group) {
    auto it = contents.blobs.find(name);
    if (it == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + name + "'");
    const torch::Tensor m = TensorFromBytes(it->second, source);
    if (m.dim() != 2 || m.size(0) != 2 || m.size(1) != group.values().numel()) {
      Fail(ExitCode::kBadData, source + ": '" + std::string(name) + "' does not fit the network");
    }
    return m;
  };
  try {
    critic_adam_.Restore(moments("sac.critic_adam", critic_params_), state.at("critic_adam_steps").get<int64_t>());
    actor_adam_.Restore(moments("sac.actor_adam", actor_params_), state.at("actor_adam_steps").get<int64_t>());
    const auto& a = state.at("alpha_adam");
    alpha_adam_ = {a.at(0).get<double>(), a.at(1).get<double>(), a.at(2).get<int64_t>()};
    updates_ = state.at("updates").get<int64_t>();
    const auto& last = state.at("last_actor");
    last_actor_.actor_loss = last.at(0).get<double>();
    last_actor_.alpha_loss = last.at(1).get<double>();
    last_actor_.entropy = last.at(2).get<double>();
    if (last.size() >= 5) {  // behaviour cloning's figures (checkpoints before it have three)
      last_actor_.bc_loss = last.at(3).get<double>();
      last_actor_.bc_weight = last.at(4).get<double>();
    }
    if (last.size() >= 6) last_actor_.terminate_prob = last.at(5).get<double>();  // before it: five
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed 'sac_state'");
  }
}

void SacAgent::InitFrom(const CheckpointContents& contents, const std::string& source) {
  if (contents.metadata.value("algorithm", "") != kSacAlgorithm) {
    Fail(ExitCode::kBadData, source + ": not a SAC checkpoint (algorithm '" +
                                 contents.metadata.value("algorithm", "") + "')");
  }
  CheckSameInputs(InputSpec::FromJson(Field(contents.metadata, "input_spec", source), source), spec_, source,
                  "this data");
  const nlohmann::json stored =
      SacNetworkConfig::FromJson(Field(contents.metadata, "sac_network", source), source).ToJson();
  const nlohmann::json wanted = config_.network.ToJson();
  for (const auto& [key, value] : wanted.items()) {
    if (stored.at(key) != value) {
      Fail(ExitCode::kBadData, source + ": checkpoint's network has " + key + " " + stored.at(key).dump() +
                                   " but --sac.network.* asks for " + value.dump());
    }
  }
  LoadFlatBlob(contents, "sac.critic", critic_params_.values(), source);
  LoadFlatBlob(contents, "sac.actor", actor_params_.values(), source);
  torch::NoGradGuard no_grad;
  target_params_.values().copy_(critic_head_values_);
  ResetAverage();
  try {
    log_alpha_ = Field(contents.metadata, "sac_state", source).at("log_alpha").get<double>();
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed 'sac_state'");
  }
}

void SacAgent::ExportPolicy(CheckpointContents* contents) const {
  contents->metadata["algorithm"] = kSacAlgorithm;
  contents->metadata["sac_format"] = kSacFormat;
  contents->metadata["sac_network"] = config_.network.ToJson();
  contents->metadata["input_spec"] = spec_.ToJson();
  contents->blobs["sac.critic"] = TensorToBytes(critic_params_.values());
  contents->blobs["sac.actor"] = TensorToBytes(actor_params_.values());
  if (config_.policy_average > 0.0) {
    contents->blobs["sac.policy_average"] = TensorToBytes(average_params_.values());
    contents->metadata["sac_policy_average"] = config_.policy_average;
  }
  torch::Tensor images, vectors;
  ExampleInput(spec_, &images, &vectors);
  at::Generator unused = at::detail::createCPUGenerator(0);
  const torch::Tensor action =
      exported().Act(images.defined() ? images.to(device_) : images, vectors.to(device_), SacActionMode::kMean, unused);
  if (images.defined()) contents->blobs["sac.example.images"] = TensorToBytes(images);
  contents->blobs["sac.example.vectors"] = TensorToBytes(vectors);
  contents->blobs["sac.example.action"] = TensorToBytes(action);
}

std::unique_ptr<Policy> SacAgent::MakePolicy(SacActionMode mode, uint64_t seed, const std::string& id) {
  return std::make_unique<SacPolicy>(exported(), spec_, mode, seed, id);
}

MetricsLog::Row StatsRow(const SacUpdateStats& s, bool behaviour_cloning, bool conservative, bool discrete_terminate) {
  MetricsLog::Row row = {{"critic_loss", s.critic_loss}, {"actor_loss", s.actor_loss}, {"alpha", s.alpha},
                         {"alpha_loss", s.alpha_loss},   {"entropy", s.entropy},       {"q_mean", s.q_mean},
                         {"q_min", s.q_min},             {"q_max", s.q_max},           {"target_mean", s.target_mean}};
  if (behaviour_cloning) {
    row.push_back({"bc_loss", s.bc_loss});
    row.push_back({"bc_weight", s.bc_weight});
  }
  if (conservative) {
    row.push_back({"cql_penalty", s.cql_penalty});
    row.push_back({"cql_weight", s.cql_weight});
  }
  if (discrete_terminate) row.push_back({"terminate_prob", s.terminate_prob});
  return row;
}

}  // namespace perpetua
