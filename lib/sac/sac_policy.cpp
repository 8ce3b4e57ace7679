#include "sac/sac_policy.h"

#include "common/error.h"
#include "common/rng.h"
#include "nn/tensor_io.h"
#include "nn/tensor_batch.h"

namespace perpetua {
namespace {

torch::Tensor Blob(const CheckpointContents& contents, const std::string& name, const std::string& source) {
  auto it = contents.blobs.find(name);
  if (it == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + name + "'");
  return TensorFromBytes(it->second, source);
}

}  // namespace

SacPolicy::SacPolicy(SacActing acting, InputSpec spec, SacActionMode mode, uint64_t seed, std::string id)
    : acting_(std::move(acting)),
      spec_(std::move(spec)),
      mode_(mode),
      seed_(seed),
      id_(std::move(id)),
      generator_(at::detail::createCPUGenerator(seed)) {}

void SacPolicy::BeginEpisode(uint64_t episode_seed) {
  generator_.set_current_seed(DeriveSeed(seed_, /*stream=*/0x5ac, episode_seed));
}

std::vector<float> SacPolicy::Act(const Observation& observation, const nlohmann::json& /*info*/) {
  const torch::Device device = acting_.center.device();
  torch::Tensor images, vectors;
  ObservationToTensors(observation, spec_, device, &images, &vectors);
  const torch::Tensor action = acting_.Act(images, vectors, mode_, generator_).to(torch::kCPU).contiguous();
  const float* a = action.data_ptr<float>();
  return std::vector<float>(a, a + action.numel());
}

std::unique_ptr<Policy> LoadSacPolicy(const CheckpointContents& contents, const std::string& source,
                                      const EnvSpec& expected, SacActionMode mode, const torch::Device& device,
                                      uint64_t seed) {
  const nlohmann::json& meta = contents.metadata;
  if (meta.value("algorithm", "") != kSacAlgorithm) {
    Fail(ExitCode::kBadData, source + ": not a SAC checkpoint (algorithm '" + meta.value("algorithm", "") + "')");
  }
  if (meta.value("sac_format", 0) != kSacFormat) {
    Fail(ExitCode::kBadData, source + ": SAC checkpoint format " + std::to_string(meta.value("sac_format", 0)) +
                                 " is not the " + std::to_string(kSacFormat) + " this build reads");
  }
  if (!meta.contains("input_spec") || !meta.contains("sac_network")) {
    Fail(ExitCode::kBadData, source + ": checkpoint lacks its input spec or network sizes");
  }
  const InputSpec spec = InputSpec::FromJson(meta.at("input_spec"), source);
  CheckSameInputs(spec, InputSpec::FromEnvSpec(expected, "cell '" + expected.name + "'"), source,
                  "cell '" + expected.name + "'");
  const SacNetworkConfig network = SacNetworkConfig::FromJson(meta.at("sac_network"), source);

  SacActing acting;
  int64_t input_dim = spec.proprio_dim;
  if (!spec.image_keys.empty()) {
    acting.encoder = SacEncoder(network, spec);
    acting.encoder->to(device);
    acting.encoder->eval();
    input_dim += network.EncoderOutputDim();
  }
  acting.actor = MakeActor(input_dim, network, spec);
  acting.terminate_index = DiscreteTerminateIndex(network, spec);
  acting.actor->to(device);
  acting.actor->eval();
  if (contents.blobs.count("sac.policy_average")) {
    // The averaged policy (SacConfig::policy_average): encoder then actor, one buffer.
    std::vector<torch::Tensor> parameters = acting.encoder ? acting.encoder->parameters() : std::vector<torch::Tensor>();
    for (const auto& p : acting.actor->parameters()) parameters.push_back(p);
    LoadFlatBlob(contents, "sac.policy_average", FlatParameters(parameters).values(), source);
  } else {
    // The live weights; the encoder is the first part of the critics' flat buffer.
    if (acting.encoder) {
      LoadFlatBlob(contents, "sac.critic", FlatParameters(acting.encoder->parameters()).values(), source);
    }
    LoadFlatBlob(contents, "sac.actor", FlatParameters(acting.actor->parameters()).values(), source);
  }
  const torch::Tensor low = torch::tensor(spec.action_low), high = torch::tensor(spec.action_high);
  acting.center = ((high + low) / 2).to(device);
  acting.scale = ((high - low) / 2).to(device);

  // The stored example must give the stored mean action.
  const torch::Tensor images = !spec.image_keys.empty() ? Blob(contents, "sac.example.images", source).to(device) : torch::Tensor();
  const torch::Tensor vectors = Blob(contents, "sac.example.vectors", source).to(device);
  const torch::Tensor stored = Blob(contents, "sac.example.action", source);
  at::Generator unused = at::detail::createCPUGenerator(0);
  const torch::Tensor action = acting.Act(images, vectors, SacActionMode::kMean, unused).to(torch::kCPU);
  if (action.sizes() != stored.sizes() || !torch::allclose(action, stored, /*rtol=*/1e-4, /*atol=*/1e-5)) {
    Fail(ExitCode::kBadData, source + ": the example input no longer gives the stored action (corrupt weights?)");
  }
  return std::make_unique<SacPolicy>(acting, spec, mode, seed, "checkpoint:" + meta.value("id", std::string("?")));
}

}  // namespace perpetua
