#include "skewfit/latent_goals.h"

#include "common/error.h"
#include "nn/tensor_io.h"

namespace perpetua {

EnvSpec LatentSpec(const EnvSpec& data_spec, int64_t latent_dim) {
  EnvSpec spec = data_spec;
  spec.observations = {{kLatentKey, DType::kFloat32, {latent_dim}}, {kLatentGoalKey, DType::kFloat32, {latent_dim}}};
  return spec;
}

LatentGoalSource::LatentGoalSource(BatchSource* inner, GoalVae* vae, std::mutex* vae_mutex, GoalRelabelConfig config,
                                   std::string image_key, bool has_goal_images, SkewedImages skewed_images)
    : inner_(inner),
      vae_(vae),
      vae_mutex_(vae_mutex),
      config_(std::move(config)),
      image_key_(std::move(image_key)),
      has_goal_images_(has_goal_images),
      skewed_images_(std::move(skewed_images)) {}

TransitionBatch LatentGoalSource::Sample(int batch_size, Rng& rng, int* online_count) {
  // Future observations only when some rows may take hindsight goals.
  const bool hindsight = config_.rollout_fraction + config_.sampled_fraction < 1.0;
  SampleRequest request;
  if (hindsight) request.future_keys = {image_key_};
  TransitionBatch raw = inner_->SampleFor(batch_size, rng, online_count, request);
  const int64_t b = raw.size();
  const auto image = [&](const std::map<std::string, Array>& observations, const std::string& key) {
    const auto found = observations.find(key);
    if (found == observations.end()) Fail(ExitCode::kBadData, "a batch lacks the observation '" + key + "'");
    return ArrayToTensor(found->second);
  };
  // Each row's kind of goal, then the sampled goals, in row order from the batch's Rng.
  enum Kind : int { kRollout, kSampled, kHindsight };
  std::vector<std::vector<int64_t>> rows(3);
  for (int64_t i = 0; i < b; ++i) {
    const double u = rng.Uniform();
    int kind = u < config_.rollout_fraction                            ? kRollout
               : u < config_.rollout_fraction + config_.sampled_fraction ? kSampled
                                                                         : kHindsight;
    if (kind == kRollout && !has_goal_images_) kind = kSampled;
    rows[static_cast<size_t>(kind)].push_back(i);
  }
  GoalMix mix;
  mix.rollout = static_cast<int64_t>(rows[kRollout].size());
  mix.sampled = static_cast<int64_t>(rows[kSampled].size());
  mix.hindsight = static_cast<int64_t>(rows[kHindsight].size());
  torch::Tensor z, z_next, goals;
  {
    std::lock_guard<std::mutex> lock(*vae_mutex_);
    const int64_t latent = vae_->config().network.latent_dim;
    z = vae_->Encode(image(raw.observations, image_key_));
    z_next = vae_->Encode(image(raw.next_observations, image_key_));
    goals = torch::zeros({b, latent});
    // Each kind's goals for its rows only: rollout and hindsight images are encoded where they are used.
    const auto fill = [&](int kind, const torch::Tensor& values) {
      goals.index_copy_(0, torch::tensor(rows[static_cast<size_t>(kind)], torch::kLong), values);
    };
    const auto encoded = [&](int kind, const std::map<std::string, Array>& observations, const std::string& key) {
      return vae_->Encode(
          image(observations, key).index_select(0, torch::tensor(rows[static_cast<size_t>(kind)], torch::kLong)));
    };
    if (!rows[kSampled].empty()) fill(kSampled, SampledGoals(mix.sampled, latent, raw, rng));
    if (!rows[kRollout].empty()) fill(kRollout, encoded(kRollout, raw.observations, config_.goal_key));
    if (!rows[kHindsight].empty()) fill(kHindsight, encoded(kHindsight, raw.future_observations, image_key_));
  }
  const torch::Tensor rewards = -(z_next - goals).norm(2, /*dim=*/1);
  mix.mean_reward = b > 0 ? rewards.mean().item<double>() : 0.0;

  TransitionBatch out;
  out.actions = std::move(raw.actions);
  const Array goal = TensorToArray(goals);
  out.observations = {{kLatentKey, TensorToArray(z)}, {kLatentGoalKey, goal}};
  out.next_observations = {{kLatentKey, TensorToArray(z_next)}, {kLatentGoalKey, goal}};
  const torch::Tensor r = rewards.contiguous();
  out.rewards.assign(r.data_ptr<float>(), r.data_ptr<float>() + b);
  out.terminated.assign(static_cast<size_t>(b), 0);
  {
    std::lock_guard<std::mutex> lock(mix_mutex_);
    last_mix_ = mix;
  }
  return out;
}

torch::Tensor LatentGoalSource::SampledGoals(int64_t n, int64_t latent, const TransitionBatch& raw, Rng& rng) {
  if (config_.sampled_from == "prior") {
    std::vector<float> prior(static_cast<size_t>(n * latent));
    for (float& x : prior) x = static_cast<float>(rng.Normal());
    return torch::from_blob(prior.data(), {n, latent}).clone();
  }
  torch::Tensor images = skewed_images_ ? skewed_images_(n, rng) : torch::Tensor();
  if (!images.defined()) {
    const auto found = raw.observations.find(image_key_);
    PERPETUA_CHECK(found != raw.observations.end());  // Sample encoded it already
    std::vector<int64_t> pick(static_cast<size_t>(n));
    for (int64_t& row : pick) row = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(raw.size())));
    images = ArrayToTensor(found->second).index_select(0, torch::tensor(pick, torch::kLong));
  }
  return vae_->Encode(images);
}

GoalMix LatentGoalSource::last_mix() const {
  std::lock_guard<std::mutex> lock(mix_mutex_);
  return last_mix_;
}

}  // namespace perpetua
