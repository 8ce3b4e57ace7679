#include "qtopt/q_policy.h"

#include "common/error.h"
#include "common/rng.h"
#include "nn/checkpoint.h"
#include "nn/torch_runtime.h"
#include "qtopt/bellman.h"
#include "qtopt/q_checkpoint.h"

namespace perpetua {
namespace {

class QPolicy : public Policy {
 public:
  QPolicy(LoadedQNetwork loaded, const torch::Device& device, uint64_t seed, std::string id)
      : loaded_(std::move(loaded)), device_(device), generator_(at::detail::createCPUGenerator(seed)),
        id_(std::move(id)) {}

  void BeginEpisode(uint64_t episode_seed) override {
    generator_ = at::detail::createCPUGenerator(DeriveSeed(episode_seed, /*stream=*/0x51, 0));
  }

  std::vector<float> Act(const Observation& observation, const nlohmann::json& /*info*/) override {
    c10::InferenceMode inference;
    torch::Tensor image, proprio;
    ObservationToTensors(observation, loaded_.spec, device_, &image, &proprio);
    const torch::Tensor best =
        MaximizeQ(*loaded_.network, image, proprio, loaded_.cem, generator_).to(torch::kCPU).contiguous();
    return std::vector<float>(best.data_ptr<float>(), best.data_ptr<float>() + best.numel());
  }

  std::string id() const override { return "checkpoint:" + id_; }

 private:
  LoadedQNetwork loaded_;
  torch::Device device_;
  at::Generator generator_;
  std::string id_;
};

}  // namespace

std::unique_ptr<Policy> LoadPolicyFromCheckpoint(const std::string& path, const EnvSpec& expected,
                                                 const CheckpointPolicyOptions& options) {
  // Validates the device; keeps the caller's intra-op thread count.
  const TorchRuntime runtime = ConfigureTorchRuntime(options.device, torch::get_num_threads());
  const CheckpointContents contents = ReadCheckpoint(path);
  LoadedQNetwork loaded = LoadQNetwork(contents, path, torch::Device(runtime.device));
  CheckSameInputs(loaded.spec, QInputSpec::FromEnvSpec(expected, "cell '" + expected.name + "'"), path,
                  "cell '" + expected.name + "'");
  if (options.cem_iterations > 0) loaded.cem.iterations = options.cem_iterations;
  if (options.cem_samples > 0) loaded.cem.samples = options.cem_samples;
  if (options.cem_elites > 0) loaded.cem.elites = options.cem_elites;
  loaded.cem.Validate("cem");
  const std::string id = MetadataValue<std::string>(contents.metadata, "id", "", path);
  if (id.empty()) Fail(ExitCode::kBadData, path + ": checkpoint metadata has no string 'id'");
  return std::make_unique<QPolicy>(std::move(loaded), torch::Device(runtime.device), options.seed, id);
}

}  // namespace perpetua
