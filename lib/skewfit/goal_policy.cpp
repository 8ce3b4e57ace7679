#include "skewfit/goal_policy.h"

#include "common/error.h"
#include "nn/tensor_io.h"
#include "sac/sac_policy.h"
#include "skewfit/latent_goals.h"

namespace perpetua {

LatentGoalPolicy::LatentGoalPolicy(std::unique_ptr<Policy> latent_policy, std::unique_ptr<GoalVae> vae,
                                   std::string image_key, std::string goal_key)
    : latent_policy_(std::move(latent_policy)),
      vae_(std::move(vae)),
      image_key_(std::move(image_key)),
      goal_key_(std::move(goal_key)) {}

std::vector<float> LatentGoalPolicy::Act(const Observation& observation, const nlohmann::json& info) {
  const auto latent = [&](const std::string& key) {
    const auto found = observation.find(key);
    if (found == observation.end()) Fail(ExitCode::kBadData, "observation lacks the key '" + key + "'");
    return TensorToArray(vae_->Encode(ArrayToTensor(found->second).unsqueeze(0)).squeeze(0));
  };
  const Observation latents = {{kLatentKey, latent(image_key_)}, {kLatentGoalKey, latent(goal_key_)}};
  return latent_policy_->Act(latents, info);
}

bool IsLatentGoalCheckpoint(const CheckpointContents& contents) { return contents.metadata.contains("goals"); }

std::unique_ptr<Policy> LoadLatentGoalPolicy(const CheckpointContents& contents, const std::string& source,
                                             const EnvSpec& expected, SacActionMode mode, const torch::Device& device,
                                             uint64_t seed) {
  const nlohmann::json goals = MetadataField<nlohmann::json>(contents.metadata, "goals", source);
  const std::string image_key = MetadataField<std::string>(goals, "image_key", source);
  const std::string goal_key = MetadataField<std::string>(goals, "goal_key", source);
  const ObservationSpec* image = nullptr;
  const ObservationSpec* goal = nullptr;
  for (const ObservationSpec& o : expected.observations) {
    if (o.key == image_key) image = &o;
    if (o.key == goal_key) goal = &o;
  }
  const std::string cell = "cell '" + expected.name + "'";
  if (image == nullptr) Fail(ExitCode::kBadData, source + ": the policy reads the image '" + image_key + "', " + cell + " has none");
  if (goal == nullptr) {
    Fail(ExitCode::kBadData, source + ": the policy reaches goal images ('" + goal_key + "'): run " + cell +
                                 " with --goals FILE (rl-goals sample)");
  }
  std::unique_ptr<GoalVae> vae = GoalVae::FromCheckpoint(contents, device, source);
  if (vae->data_height() != image->shape.at(0) || vae->data_width() != image->shape.at(1) ||
      vae->channels() != image->shape.at(2)) {
    Fail(ExitCode::kBadData, source + ": its VAE reads " + std::to_string(vae->data_height()) + "x" +
                                 std::to_string(vae->data_width()) + "x" + std::to_string(vae->channels()) +
                                 " images, " + cell + "'s '" + image_key + "' is " + ShapeString(image->shape));
  }
  std::unique_ptr<Policy> latent_policy =
      LoadSacPolicy(contents, source, LatentSpec(expected, vae->config().network.latent_dim), mode, device, seed);
  return std::make_unique<LatentGoalPolicy>(std::move(latent_policy), std::move(vae), image_key, goal_key);
}

}  // namespace perpetua
