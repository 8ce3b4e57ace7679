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
                                   std::string image_key, bool has_goal_images)
    : inner_(inner),
      vae_(vae),
      vae_mutex_(vae_mutex),
      config_(std::move(config)),
      image_key_(std::move(image_key)),
      has_goal_images_(has_goal_images) {}

TransitionBatch LatentGoalSource::Sample(int batch_size, Rng& rng, int* online_count) {
  TransitionBatch raw = inner_->SampleWithFuture(batch_size, rng, online_count, {image_key_});
  const int64_t b = raw.size();
  const auto image = [&](const std::map<std::string, Array>& observations, const std::string& key) {
    const auto found = observations.find(key);
    if (found == observations.end()) Fail(ExitCode::kBadData, "a batch lacks the observation '" + key + "'");
    return ArrayToTensor(found->second);
  };
  // Each row's kind of goal, then the prior's latents, in row order from the batch's Rng.
  enum Kind : int { kRollout, kSampled, kHindsight };
  std::vector<int> kinds(static_cast<size_t>(b));
  GoalMix mix;
  for (int64_t i = 0; i < b; ++i) {
    const double u = rng.Uniform();
    int kind = u < config_.rollout_fraction                            ? kRollout
               : u < config_.rollout_fraction + config_.sampled_fraction ? kSampled
                                                                         : kHindsight;
    if (kind == kRollout && !has_goal_images_) kind = kSampled;
    kinds[static_cast<size_t>(i)] = kind;
    ++(kind == kRollout ? mix.rollout : kind == kSampled ? mix.sampled : mix.hindsight);
  }
  torch::Tensor z, z_next, goals;
  {
    std::lock_guard<std::mutex> lock(*vae_mutex_);
    const int64_t latent = vae_->config().network.latent_dim;
    z = vae_->Encode(image(raw.observations, image_key_));
    z_next = vae_->Encode(image(raw.next_observations, image_key_));
    const torch::Tensor future = vae_->Encode(image(raw.future_observations, image_key_));
    const torch::Tensor rollout =
        has_goal_images_ ? vae_->Encode(image(raw.observations, config_.goal_key)) : torch::zeros({b, latent});
    std::vector<float> prior(static_cast<size_t>(b * latent));
    for (int64_t i = 0; i < b; ++i) {
      for (int64_t j = 0; j < latent; ++j) {
        prior[static_cast<size_t>(i * latent + j)] =
            kinds[static_cast<size_t>(i)] == kSampled ? static_cast<float>(rng.Normal()) : 0.0f;
      }
    }
    const torch::Tensor kind = torch::tensor(kinds, torch::kLong).unsqueeze(1);
    goals = torch::where(kind == kRollout, rollout,
                         torch::where(kind == kSampled, torch::from_blob(prior.data(), {b, latent}).clone(), future));
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

GoalMix LatentGoalSource::last_mix() const {
  std::lock_guard<std::mutex> lock(mix_mutex_);
  return last_mix_;
}

}  // namespace perpetua
