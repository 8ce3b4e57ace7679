#include "vae/goal_sampler.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "common/cli.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/signals.h"
#include "data/goal_file.h"
#include "env/followed_goals.h"
#include "nn/tensor_io.h"
#include "nn/torch_runtime.h"
#include "vae/goal_vae.h"
#include "vae/skew.h"

namespace perpetua {
namespace {

// The seed streams of the prior's latents and of the data pool's draw.
constexpr uint64_t kPriorStream = 21, kPoolStream = 22, kDensityStream = 23;

// `count` goals z ~ N(0, I) from `seed`: the decoded images, brought from the VAE's size to
// `height` x `width` (what a goal image is compared with), and the latents.
GoalSet DecodePriorGoals(GoalVae& vae, int64_t count, uint64_t seed, int64_t height, int64_t width) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  const torch::Tensor latents = at::randn({count, vae.config().network.latent_dim}, generator, torch::kFloat32);
  torch::Tensor images = vae.Decode(latents).permute({0, 3, 1, 2}).to(torch::kFloat32);
  images = torch::nn::functional::interpolate(images, torch::nn::functional::InterpolateFuncOptions()
                                                          .size(std::vector<int64_t>{height, width})
                                                          .mode(torch::kBilinear)
                                                          .align_corners(false));
  GoalSet goals;
  goals.images = TensorToArray(images.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}));
  goals.latents = TensorToArray(latents);
  return goals;
}

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
  if (threads < 0) Fail(ExitCode::kUsage, "--threads must be >= 0 (0: one per core)");
  if (!(skew_min_ess >= 0.0 && skew_min_ess <= 1.0)) Fail(ExitCode::kUsage, "--skew-min-ess must be in [0, 1]");
  if (!(follow >= 0 && follow <= 86400)) Fail(ExitCode::kUsage, "--follow must be in 0..86400 seconds (0: draw once)");
}

namespace {

// One goal file's contents from the VAE now at config.vae; `data` (with --from data) is --data, open.
GoalSet DrawGoals(const SampleGoalsConfig& config, const torch::Device& device, ReplayData* data) {
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
    goals = DecodePriorGoals(*vae, config.count, DeriveSeed(config.seed, kPriorStream, 0), vae->data_height(),
                             vae->data_width());
  } else {
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
               config.vae + " on --data", config.skew_min_ess);
    Rng draw_rng(DeriveSeed(config.seed, kPoolStream, 1));
    const torch::Tensor rows = torch::tensor(skewed.Draw(config.count, draw_rng), torch::kLong);
    const torch::Tensor images = pool.index_select(0, rows);
    goals.images = TensorToArray(images);
    goals.latents = TensorToArray(vae->Encode(images));
    meta["alpha"] = config.alpha;
    meta["pool"] = config.pool;
    meta["data"] = config.data;
    meta["skew_min_ess"] = config.skew_min_ess;
    meta["applied_alpha"] = skewed.applied_alpha();
    meta["pool_effective_size"] = EffectiveSampleSize(skewed.probabilities());
  }
  goals.meta = meta;
  return goals;
}

}  // namespace

ExitCode RunSampleGoals(const SampleGoalsConfig& config, const ReplayDataFactory& data_factory) {
  config.Validate();
  const TorchRuntime runtime = ConfigureTorchRuntime(config.device, config.threads);
  const torch::Device device(runtime.device);
  FileStamp stamp = StampOf(config.vae);
  // The data is opened once; a stream adds the shards written since before each draw.
  const std::unique_ptr<ReplayData> data =
      config.from == "data" ? data_factory(config.data, ShardSubset{}) : std::unique_ptr<ReplayData>();
  WriteGoalFile(config.out, DrawGoals(config, device, data.get()));
  std::cout << config.out << std::endl;
  if (config.follow <= 0) return ExitCode::kOk;
  LogInfo("following " + config.vae + ": new goals into " + config.out + " whenever it changes");
  const auto poll = std::chrono::duration<double>(config.follow);
  while (!StopRequested()) {
    const auto until = std::chrono::steady_clock::now() + poll;
    while (!StopRequested() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const FileStamp now = StampOf(config.vae);
    if (StopRequested() || now == stamp) continue;
    stamp = now;
    try {
      if (data) data->RefreshOffline();
      WriteGoalFile(config.out, DrawGoals(config, device, data.get()));
      std::cout << config.out << std::endl;
    } catch (const Error& e) {
      // The trainer may be between writes: the goals written before stay, the next change is tried again.
      LogWarning(std::string(e.what()) + "; keeping the goals written before");
    }
  }
  return ExitCode::kInterrupted;
}

// --goals vae:CKPT ---------------------------------------------------------

namespace {

// The seed stream of vae:CKPT's latents.
constexpr uint64_t kSupplyStream = 24;

// One version of vae:CKPT's goals: the VAE now at the checkpoint decodes the latents.
std::shared_ptr<const GoalImages> DrawVaeGoals(const VaeGoalOptions& options, const std::string& source) {
  const CheckpointContents checkpoint = ReadCheckpoint(options.checkpoint);
  const std::unique_ptr<GoalVae> vae = GoalVae::FromCheckpoint(checkpoint, torch::Device(options.device), source);
  if (vae->config().image_key != "image" || vae->channels() != options.image_shape.at(2)) {
    Fail(ExitCode::kBadData, source + ": its VAE reads " + std::to_string(vae->channels()) + "-channel '" +
                                 vae->config().image_key + "' images; goal images are the cell's 'image' " +
                                 ShapeString(options.image_shape));
  }
  const torch::NoGradGuard no_grad;
  GoalSet drawn = DecodePriorGoals(*vae, options.count, DeriveSeed(options.seed, kSupplyStream, 0),
                                   options.image_shape.at(0), options.image_shape.at(1));
  auto goals = std::make_shared<GoalImages>();
  goals->images = std::move(drawn.images);
  goals->vae_id = checkpoint.metadata.value("id", "");
  LogInfo(source + ": " + std::to_string(options.count) + " goals from the VAE of checkpoint " + goals->vae_id +
          " (" + std::to_string(vae->steps()) + " VAE updates)");
  return goals;
}

}  // namespace

std::shared_ptr<GoalSupply> MakeVaeGoalSupply(const VaeGoalOptions& options) {
  const std::string source = "vae:" + options.checkpoint;
  return FollowedGoals(options.checkpoint, source, [options, source] { return DrawVaeGoals(options, source); });
}

}  // namespace perpetua
