#include "vae/goal_vae.h"

#include <cmath>

#include "common/error.h"
#include "nn/row_draws.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi)

// Sum over every axis but the first: [B,...] -> [B].
torch::Tensor SumPerImage(const torch::Tensor& t) { return t.flatten(1).sum(1); }

}  // namespace

ConvVaeImpl::ConvVaeImpl(const VaeNetworkConfig& config, int64_t channels) : config_(config), channels_(channels) {
  config_.Validate("vae.network");
  const std::vector<int> sides = config_.FeatureSides();
  int64_t in = channels;
  for (size_t i = 0; i < config_.channels.size(); ++i) {
    encoder_.push_back(register_module(
        "conv" + std::to_string(i),
        torch::nn::Conv2d(
            torch::nn::Conv2dOptions(in, config_.channels[i], config_.kernels[i]).stride(config_.strides[i]))));
    in = config_.channels[i];
  }
  const int64_t flat = in * sides.back() * sides.back();
  to_latent_ = register_module("to_latent", torch::nn::Linear(flat, 2 * config_.latent_dim));
  from_latent_ = register_module("from_latent", torch::nn::Linear(config_.latent_dim, flat));
  // Layer i of the decoder undoes encoder layer n-1-i: from side sides[j] back to the side that layer read.
  const int n = static_cast<int>(config_.channels.size());
  for (int i = 0; i < n; ++i) {
    const int j = n - 1 - i;
    const int64_t target = j == 0 ? config_.image_size : sides[j - 1];
    const int64_t out_channels = j == 0 ? channels : config_.channels[j - 1];
    const int64_t padding = target - ((sides[j] - 1) * config_.strides[j] + config_.kernels[j]);
    PERPETUA_CHECK(padding >= 0 && padding < config_.strides[j]);
    decoder_.push_back(
        register_module("deconv" + std::to_string(i),
                        torch::nn::ConvTranspose2d(
                            torch::nn::ConvTranspose2dOptions(config_.channels[j], out_channels, config_.kernels[j])
                                .stride(config_.strides[j])
                                .output_padding(padding))));
  }
}

void ConvVaeImpl::Encode(const torch::Tensor& x, torch::Tensor* mean, torch::Tensor* log_var) {
  torch::Tensor h = x;
  for (auto& conv : encoder_) h = torch::relu(conv->forward(h));
  const torch::Tensor stats = to_latent_->forward(h.flatten(1));
  *mean = stats.narrow(1, 0, config_.latent_dim);
  *log_var = stats.narrow(1, config_.latent_dim, config_.latent_dim);
}

torch::Tensor ConvVaeImpl::Decode(const torch::Tensor& z) {
  const int64_t side = config_.FeatureSides().back();
  torch::Tensor h = torch::relu(from_latent_->forward(z)).view({z.size(0), config_.channels.back(), side, side});
  for (size_t i = 0; i < decoder_.size(); ++i) {
    h = decoder_[i]->forward(h);
    if (i + 1 < decoder_.size()) h = torch::relu(h);
  }
  return h;
}

torch::Tensor VaeInput(const torch::Tensor& images, int64_t side) {
  PERPETUA_CHECK(images.dim() == 4);
  torch::Tensor x = images.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0);
  if (x.size(2) != side || x.size(3) != side) {
    x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{side, side})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false));
  }
  return x.contiguous();
}

torch::Tensor DecoderLogLikelihood(const torch::Tensor& x, const torch::Tensor& outputs, const std::string& decoder) {
  if (decoder == "bernoulli") {
    return SumPerImage(
               torch::binary_cross_entropy_with_logits(outputs, x, /*weight=*/{}, /*pos_weight=*/{}, at::Reduction::None))
        .neg();
  }
  PERPETUA_CHECK(decoder == "gaussian");
  return SumPerImage((x - torch::sigmoid(outputs)).square().add(kLog2Pi)).mul(-0.5);
}

ElboTerms ComputeElboTerms(const torch::Tensor& x, const torch::Tensor& outputs, const torch::Tensor& mean,
                           const torch::Tensor& log_var, const std::string& decoder) {
  return {DecoderLogLikelihood(x, outputs, decoder), (mean.square() + log_var.exp() - 1.0 - log_var).sum(1).mul(0.5)};
}

torch::Tensor VaeLoss(const ElboTerms& terms, double beta) { return (terms.kl * beta - terms.log_likelihood).mean(); }

GoalVae::GoalVae(const VaeConfig& config, int64_t data_height, int64_t data_width, int64_t channels,
                 const torch::Device& device, uint64_t seed)
    : config_(config), data_height_(data_height), data_width_(data_width), channels_(channels), device_(device) {
  config_.Validate("vae");
  torch::manual_seed(seed);
  net_ = ConvVae(config_.network, channels_);
  net_->to(device_);
  adam_ = std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(config_.lr));
}

torch::Tensor GoalVae::Input(const torch::Tensor& images) const {
  PERPETUA_CHECK(images.dim() == 4 && images.size(1) == data_height_ && images.size(2) == data_width_ &&
                 images.size(3) == channels_ && images.scalar_type() == torch::kUInt8);
  return VaeInput(images.to(device_), config_.network.image_size);
}

VaeStepStats GoalVae::Step(const torch::Tensor& images, at::Generator& generator) {
  const torch::Tensor x = Input(images);
  net_->train();
  torch::Tensor mean, log_var;
  net_->Encode(x, &mean, &log_var);
  const torch::Tensor eps = RowRandn(mean.sizes(), generator).to(device_);
  const torch::Tensor z = mean + (log_var * 0.5).exp() * eps;
  const ElboTerms terms = ComputeElboTerms(x, net_->Decode(z), mean, log_var, config_.decoder);
  const torch::Tensor loss = VaeLoss(terms, config_.beta);
  const torch::Tensor figures =
      torch::stack({loss.detach(), terms.log_likelihood.detach().mean(), terms.kl.detach().mean()})
          .to(torch::kCPU, torch::kDouble);
  const double* f = figures.data_ptr<double>();
  if (!std::isfinite(f[0])) Fail(ExitCode::kDiverged, "non-finite VAE loss at step " + std::to_string(steps_));
  adam_->zero_grad();
  loss.backward();
  AverageGradients(collective_, net_->parameters());
  adam_->step();
  ++steps_;
  return {f[0], f[1], f[2]};
}

std::vector<torch::Tensor> GoalVae::ReplicatedState() {
  std::vector<torch::Tensor> state = net_->parameters();
  for (const auto& b : net_->buffers()) state.push_back(b);
  return state;
}

torch::Tensor GoalVae::LogDensity(const torch::Tensor& images, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  net_->eval();
  const int64_t k = config_.density_samples;
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < images.size(0); begin += 256) {
    const torch::Tensor x = Input(images.slice(0, begin, std::min(images.size(0), begin + 256)));
    torch::Tensor mean, log_var;
    net_->Encode(x, &mean, &log_var);
    std::vector<torch::Tensor> log_weights;
    for (int64_t s = 0; s < k; ++s) {
      const torch::Tensor eps = at::randn(mean.sizes(), generator, torch::kFloat32).to(device_);
      const torch::Tensor z = mean + (log_var * 0.5).exp() * eps;
      const torch::Tensor log_likelihood = DecoderLogLikelihood(x, net_->Decode(z), config_.decoder);
      const torch::Tensor log_prior = (z.square() + kLog2Pi).sum(1).mul(-0.5);
      const torch::Tensor log_posterior = (eps.square() + log_var + kLog2Pi).sum(1).mul(-0.5);
      log_weights.push_back(log_likelihood.to(torch::kDouble) + (log_prior - log_posterior).to(torch::kDouble));
    }
    parts.push_back(
        (torch::logsumexp(torch::stack(log_weights), 0) - std::log(static_cast<double>(k))).to(torch::kCPU));
  }
  return parts.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(parts);
}

torch::Tensor GoalVae::Encode(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  net_->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < images.size(0); begin += 256) {
    torch::Tensor mean, log_var;
    net_->Encode(Input(images.slice(0, begin, std::min(images.size(0), begin + 256))), &mean, &log_var);
    parts.push_back(mean.to(torch::kCPU));
  }
  return parts.empty() ? torch::zeros({0, config_.network.latent_dim}) : torch::cat(parts);
}

torch::Tensor GoalVae::Decode(const torch::Tensor& latents) {
  PERPETUA_CHECK(latents.dim() == 2 && latents.size(1) == config_.network.latent_dim);
  torch::NoGradGuard no_grad;
  net_->eval();
  const torch::Tensor p = torch::sigmoid(net_->Decode(latents.to(torch::kFloat32).to(device_)));
  return p.mul(255.0).round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous().to(torch::kCPU);
}

void GoalVae::Save(CheckpointContents* contents) {
  contents->metadata["vae"] = {{"vae_format", kVaeFormat},       {"network", config_.network.ToJson()},
                               {"image_key", config_.image_key}, {"decoder", config_.decoder}, {"data_height", data_height_},
                               {"data_width", data_width_},      {"channels", channels_},
                               {"beta", config_.beta},           {"steps", steps_}};
  contents->blobs["vae.net"] = ModuleToBytes(*net_);
  contents->blobs["vae.adam"] = OptimizerToBytes(*adam_);
}

void GoalVae::Load(const CheckpointContents& contents, const std::string& source) {
  if (!contents.metadata.contains("vae")) Fail(ExitCode::kBadData, source + ": the checkpoint holds no VAE");
  const nlohmann::json meta = MetadataField<nlohmann::json>(contents.metadata, "vae", source);
  const int format = MetadataField<int>(meta, "vae_format", source);
  if (format != kVaeFormat) {
    Fail(ExitCode::kBadData,
         source + ": VAE format " + std::to_string(format) + ", this build reads " + std::to_string(kVaeFormat));
  }
  const VaeNetworkConfig network =
      VaeNetworkConfig::FromJson(MetadataField<nlohmann::json>(meta, "network", source), source);
  const int64_t h = MetadataField<int64_t>(meta, "data_height", source);
  const int64_t w = MetadataField<int64_t>(meta, "data_width", source);
  const int64_t c = MetadataField<int64_t>(meta, "channels", source);
  if (h != data_height_ || w != data_width_ || c != channels_) {
    Fail(ExitCode::kBadData, source + ": the VAE was trained on " + std::to_string(h) + "x" + std::to_string(w) + "x" +
                                 std::to_string(c) + " images, these are " + std::to_string(data_height_) + "x" +
                                 std::to_string(data_width_) + "x" + std::to_string(channels_));
  }
  const std::string decoder = MetadataField<std::string>(meta, "decoder", source);
  if (decoder != config_.decoder) {
    Fail(ExitCode::kBadData,
         source + ": the VAE's decoder is " + decoder + ", this run's is " + config_.decoder + " (--vae.decoder)");
  }
  if (network.ToJson() != config_.network.ToJson()) {
    Fail(ExitCode::kBadData, source + ": the VAE's layers are " + network.ToJson().dump() + ", this run's are " +
                                 config_.network.ToJson().dump());
  }
  const auto net = contents.blobs.find("vae.net");
  if (net == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks the VAE weights");
  ModuleFromBytes(*net_, net->second, source);
  net_->to(device_);
  const auto adam = contents.blobs.find("vae.adam");
  if (adam != contents.blobs.end()) OptimizerFromBytes(*adam_, adam->second, source);
  steps_ = MetadataField<int64_t>(meta, "steps", source);
}

std::unique_ptr<GoalVae> GoalVae::FromCheckpoint(const CheckpointContents& contents, const torch::Device& device,
                                                 const std::string& source) {
  if (!contents.metadata.contains("vae")) Fail(ExitCode::kBadData, source + ": the checkpoint holds no VAE");
  const nlohmann::json meta = MetadataField<nlohmann::json>(contents.metadata, "vae", source);
  VaeConfig config;
  config.network = VaeNetworkConfig::FromJson(MetadataField<nlohmann::json>(meta, "network", source), source);
  config.image_key = MetadataField<std::string>(meta, "image_key", source);
  config.decoder = MetadataField<std::string>(meta, "decoder", source);
  if (config.decoder != "gaussian" && config.decoder != "bernoulli") {
    Fail(ExitCode::kBadData, source + ": unknown VAE decoder '" + config.decoder + "'");
  }
  config.beta = MetadataField<double>(meta, "beta", source);
  const int64_t h = MetadataField<int64_t>(meta, "data_height", source);
  const int64_t w = MetadataField<int64_t>(meta, "data_width", source);
  const int64_t c = MetadataField<int64_t>(meta, "channels", source);
  if (h < 1 || w < 1 || h > 4096 || w > 4096 || c < 1 || c > 4) {
    Fail(ExitCode::kBadData, source + ": bad VAE image shape");
  }
  auto vae = std::make_unique<GoalVae>(config, h, w, c, device, 0);
  vae->Load(contents, source);
  return vae;
}

std::unique_ptr<GoalVae> LoadVaeCheckpoint(const std::string& path, const torch::Device& device) {
  return GoalVae::FromCheckpoint(ReadCheckpoint(path), device, path);
}

}  // namespace perpetua
