#include "vae/goal_sampler.h"

#include <iostream>

#include "common/cli.h"
#include "common/rng.h"
#include "data/goal_file.h"
#include "nn/tensor_io.h"
#include "nn/torch_runtime.h"
#include "vae/goal_vae.h"
#include "vae/skew.h"

namespace perpetua {
namespace {

// The seed streams of the prior's latents and of the data pool's draw.
constexpr uint64_t kPriorStream = 21, kPoolStream = 22, kDensityStream = 23;

}  // namespace

void SampleGoalsConfig::Validate(bool inputs) const {
  if (inputs && vae.empty()) Fail(ExitCode::kUsage, "--vae is required");
  if (inputs && out.empty()) Fail(ExitCode::kUsage, "--out is required");
  if (count < 1 || count > 1000000) Fail(ExitCode::kUsage, "--count must be in 1..1000000");
  if (from != "prior" && from != "data") Fail(ExitCode::kUsage, "--from must be prior or data, not '" + from + "'");
  if (from == "data" && inputs && data.empty()) Fail(ExitCode::kUsage, "--from data needs --data DIR");
  if (from == "prior" && !data.empty()) Fail(ExitCode::kUsage, "--data is read only with --from data");
  if (!(alpha >= -1.0 && alpha <= 0.0)) Fail(ExitCode::kUsage, "--alpha must be in [-1, 0] (0: uniform)");
  if (pool < 1) Fail(ExitCode::kUsage, "--pool must be positive");
}

ExitCode RunSampleGoals(const SampleGoalsConfig& config, const ReplayDataFactory& data_factory) {
  config.Validate();
  const TorchRuntime runtime = ConfigureTorchRuntime(config.device, 0);
  const torch::Device device(runtime.device);
  const CheckpointContents checkpoint = ReadCheckpoint(config.vae);
  const std::unique_ptr<GoalVae> vae = GoalVae::FromCheckpoint(checkpoint, device, config.vae);
  const VaeConfig& vae_config = vae->config();
  nlohmann::json meta = {{"source", config.from},
                         {"vae", config.vae},
                         {"vae_id", checkpoint.metadata.value("id", "")},
                         {"vae_step", vae->steps()},
                         {"image_key", vae_config.image_key},
                         {"image_shape", {vae->data_height(), vae->data_width(), vae->channels()}},
                         {"latent_dim", vae_config.network.latent_dim},
                         {"seed", config.seed}};
  GoalSet goals;
  if (config.from == "prior") {
    at::Generator generator = at::detail::createCPUGenerator(DeriveSeed(config.seed, kPriorStream, 0));
    const torch::Tensor latents = at::randn({config.count, vae_config.network.latent_dim}, generator, torch::kFloat32);
    // Decoded at the VAE's size, then brought to the data's image size (what a goal image is compared with).
    torch::Tensor images = vae->Decode(latents).permute({0, 3, 1, 2}).to(torch::kFloat32);
    images = torch::nn::functional::interpolate(images,
                                                torch::nn::functional::InterpolateFuncOptions()
                                                    .size(std::vector<int64_t>{vae->data_height(), vae->data_width()})
                                                    .mode(torch::kBilinear)
                                                    .align_corners(false));
    goals.images = TensorToArray(images.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}));
    goals.latents = TensorToArray(latents.to(torch::kFloat32));
  } else {
    const std::unique_ptr<ReplayData> data = data_factory(config.data, ShardSubset{});
    Rng pool_rng(DeriveSeed(config.seed, kPoolStream, 0));
    const TransitionBatch batch = data->offline().Sample(config.pool, pool_rng);
    const auto found = batch.observations.find(vae_config.image_key);
    if (found == batch.observations.end()) {
      Fail(ExitCode::kBadData, "--data: no image observation '" + vae_config.image_key + "', the VAE's");
    }
    const torch::Tensor pool = ArrayToTensor(found->second);
    if (pool.dim() != 4 || pool.size(1) != vae->data_height() || pool.size(2) != vae->data_width() ||
        pool.size(3) != vae->channels() || pool.scalar_type() != torch::kUInt8) {
      Fail(ExitCode::kBadData, "--data: its '" + vae_config.image_key + "' images are not the " +
                                   std::to_string(vae->data_height()) + "x" + std::to_string(vae->data_width()) + "x" +
                                   std::to_string(vae->channels()) + " uint8 images the VAE was trained on");
    }
    at::Generator generator = at::detail::createCPUGenerator(DeriveSeed(config.seed, kDensityStream, 0));
    const torch::Tensor log_p = vae->LogDensity(pool, generator).contiguous();
    SkewedPool skewed;
    skewed.Set(std::vector<double>(log_p.data_ptr<double>(), log_p.data_ptr<double>() + log_p.numel()), config.alpha,
               config.vae + " on --data");
    Rng draw_rng(DeriveSeed(config.seed, kPoolStream, 1));
    const torch::Tensor rows = torch::tensor(skewed.Draw(config.count, draw_rng), torch::kLong);
    const torch::Tensor images = pool.index_select(0, rows);
    goals.images = TensorToArray(images);
    goals.latents = TensorToArray(vae->Encode(images));
    meta["alpha"] = config.alpha;
    meta["pool"] = config.pool;
    meta["data"] = config.data;
    meta["pool_effective_size"] = EffectiveSampleSize(skewed.probabilities());
  }
  goals.meta = meta;
  WriteGoalFile(config.out, goals);
  std::cout << config.out << std::endl;
  return ExitCode::kOk;
}

}  // namespace perpetua
