#include "sac/sac_networks.h"

#include <cmath>

#include "common/error.h"
#include "nn/spatial_softmax.h"
#include "nn/tensor_io.h"
#include "sac/sac_update.h"

namespace perpetua {
namespace {

constexpr double kBeta1 = 0.9, kBeta2 = 0.999;

// Spatial size after the encoder's unpadded 3x3 convs.
int64_t EncodedSize(int64_t size, const std::vector<int>& strides) {
  for (int stride : strides) size = size < 3 ? 0 : (size - 3) / stride + 1;
  return size;
}

}  // namespace

SacEncoderImpl::SacEncoderImpl(const SacNetworkConfig& config, const InputSpec& spec) {
  const int64_t h = EncodedSize(spec.height, config.encoder_strides);
  const int64_t w = EncodedSize(spec.width, config.encoder_strides);
  if (h <= 0 || w <= 0) {
    Fail(ExitCode::kUsage, "--sac.network.encoder-strides leave nothing of a " + std::to_string(spec.height) + "x" +
                               std::to_string(spec.width) + " image");
  }
  int64_t in = 3 * static_cast<int64_t>(spec.image_keys.size());
  for (size_t i = 0; i < config.encoder_channels.size(); ++i) {
    const int out = config.encoder_channels[i];
    convs_.push_back(register_module(
        "conv" + std::to_string(i),
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, /*kernel_size=*/3).stride(config.encoder_strides[i]))));
    in = out;
  }
  if (config.keypoints > 0) {
    keypoint_conv_ = register_module("keypoint_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, config.keypoints, 1)));
    log_temperature_ = register_parameter("log_temperature", torch::zeros({1}));
    return;
  }
  fc_ = register_module("fc", torch::nn::Linear(in * h * w, config.feature_dim));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.feature_dim})));
}

torch::Tensor SacEncoderImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = images.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0).sub_(0.5);
  for (auto& conv : convs_) x = torch::relu(conv->forward(x));
  if (keypoint_conv_) return SpatialSoftmax(keypoint_conv_->forward(x), log_temperature_);
  return torch::tanh(norm_->forward(fc_->forward(x.flatten(1))));
}

GaussianActorImpl::GaussianActorImpl(int64_t input_dim, const SacNetworkConfig& config, int64_t action_dim,
                                     bool stop_logit)
    : log_std_min_(config.log_std_min), log_std_max_(config.log_std_max), action_dim_(action_dim) {
  int64_t in = input_dim;
  for (size_t i = 0; i <= config.hidden.size(); ++i) {
    const int64_t out = i < config.hidden.size() ? config.hidden[i] : 2 * action_dim + (stop_logit ? 1 : 0);
    layers_.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(in, out)));
    in = out;
  }
}

void GaussianActorImpl::forward(const torch::Tensor& x, torch::Tensor* mean, torch::Tensor* log_std,
                                torch::Tensor* logit) {
  torch::Tensor h = x;
  for (size_t i = 0; i + 1 < layers_.size(); ++i) h = torch::relu(layers_[i]->forward(h));
  const torch::Tensor out = layers_.back()->forward(h);
  *mean = out.narrow(1, 0, action_dim_);
  // tanh squashing into [min, max] (CleanRL), smooth where clamping is not.
  const double half_range = 0.5 * (log_std_max_ - log_std_min_);
  *log_std = torch::tanh(out.narrow(1, action_dim_, action_dim_)).mul(half_range).add(log_std_min_ + half_range);
  if (logit) *logit = out.size(1) > 2 * action_dim_ ? out.select(1, 2 * action_dim_) : torch::Tensor();
}

int64_t DiscreteTerminateIndex(const SacNetworkConfig& network, const InputSpec& spec) {
  return network.discrete_terminate ? spec.terminate_index : -1;
}

GaussianActor MakeActor(int64_t input_dim, const SacNetworkConfig& network, const InputSpec& spec) {
  const bool discrete = DiscreteTerminateIndex(network, spec) >= 0;
  return GaussianActor(input_dim, network, spec.action_dim() - (discrete ? 1 : 0), discrete);
}

TwinCriticImpl::TwinCriticImpl(int64_t input_dim, const SacNetworkConfig& config, int64_t action_dim) {
  for (int q = 0; q < 2; ++q) {
    int64_t in = input_dim + action_dim;
    for (size_t i = 0; i <= config.hidden.size(); ++i) {
      const int64_t out = i < config.hidden.size() ? config.hidden[i] : 1;
      layers_[q].push_back(register_module("q" + std::to_string(q + 1) + "_fc" + std::to_string(i),
                                           torch::nn::Linear(in, out)));
      in = out;
    }
  }
}

torch::Tensor TwinCriticImpl::forward(const torch::Tensor& x, const torch::Tensor& action) {
  const torch::Tensor input = torch::cat({x, action}, 1);
  torch::Tensor q[2];
  for (int k = 0; k < 2; ++k) {
    torch::Tensor h = input;
    for (size_t i = 0; i + 1 < layers_[k].size(); ++i) h = torch::relu(layers_[k][i]->forward(h));
    q[k] = layers_[k].back()->forward(h);
  }
  return torch::cat({q[0], q[1]}, 1).t();  // [B,2] -> [2,B]
}

SquashedSample SampleSquashed(const torch::Tensor& mean, const torch::Tensor& log_std, const torch::Tensor& noise) {
  const torch::Tensor u = torch::addcmul(mean, log_std.exp(), noise);
  SquashedSample sample;
  sample.action = torch::tanh(u);
  // log N(u; mean, std) = -noise^2/2 - log_std - log(2 pi)/2 per component.
  const double log_sqrt_2pi = 0.5 * std::log(2.0 * M_PI);
  const torch::Tensor log_jacobian = (std::log(2.0) - u - torch::softplus(-2.0 * u)).mul_(2.0);
  sample.log_prob = (noise.square().mul_(-0.5) - log_std - log_jacobian).sum(1) - log_sqrt_2pi * mean.size(1);
  return sample;
}

torch::Tensor SacActing::Act(const torch::Tensor& images, const torch::Tensor& vectors, SacActionMode mode,
                             at::Generator& generator) const {
  at::InferenceMode inference;
  const torch::Tensor x = encoder ? torch::cat({encoder.ptr()->forward(images), vectors}, 1) : vectors;
  torch::Tensor mean, log_std, logit;
  actor.ptr()->forward(x, &mean, &log_std, &logit);
  torch::Tensor squashed;
  if (mode == SacActionMode::kMean) {
    squashed = torch::tanh(mean);
  } else {
    const torch::Tensor noise = at::randn(mean.sizes(), generator, torch::kFloat32).to(mean.device());
    squashed = torch::tanh(torch::addcmul(mean, log_std.exp(), noise));
  }
  if (terminate_index >= 0) {
    const torch::Tensor stop =
        mode == SacActionMode::kMean
            ? logit.gt(0.0)
            : at::rand({logit.size(0)}, generator, torch::kFloat32).to(logit.device()).lt(torch::sigmoid(logit));
    squashed = torch::where(stop.unsqueeze(1), StopAction(squashed.size(0), squashed.size(1) + 1, terminate_index,
                                                          squashed.options()),
                            MovingAction(squashed, terminate_index));
  }
  return torch::addcmul(center, scale, squashed);
}

FlatParameters::FlatParameters(const std::vector<torch::Tensor>& parameters) : parameters_(parameters) {
  PERPETUA_CHECK(!parameters.empty());
  int64_t total = 0;
  for (const auto& p : parameters) total += p.numel();
  const auto options = parameters.front().options().requires_grad(false);
  values_ = torch::empty({total}, options);
  grads_ = torch::zeros({total}, options);
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto p : parameters_) {
    const int64_t n = p.numel();
    torch::Tensor value = values_.narrow(0, offset, n).view(p.sizes());
    value.copy_(p);
    p.set_data(value);
    p.mutable_grad() = grads_.narrow(0, offset, n).view(p.sizes());
    offset += n;
  }
}

FlatAdam::FlatAdam(const FlatParameters& group, double learning_rate, double eps)
    : values_(group.values()),
      grads_(group.grads()),
      m_(torch::zeros_like(group.values())),
      v_(torch::zeros_like(group.values())),
      learning_rate_(learning_rate),
      eps_(eps) {}

void FlatAdam::Step() {
  torch::NoGradGuard no_grad;
  ++steps_;
  m_.lerp_(grads_, 1.0 - kBeta1);
  v_.mul_(kBeta2).addcmul_(grads_, grads_, 1.0 - kBeta2);
  const double correction1 = 1.0 - std::pow(kBeta1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(kBeta2, static_cast<double>(steps_));
  const torch::Tensor denominator = v_.sqrt().div_(std::sqrt(correction2)).add_(eps_);
  values_.addcdiv_(m_, denominator, -learning_rate_ / correction1);
}

void FlatAdam::Restore(const torch::Tensor& moments, int64_t steps) {
  torch::NoGradGuard no_grad;
  m_.copy_(moments[0]);
  v_.copy_(moments[1]);
  steps_ = steps;
}

void LoadFlatBlob(const CheckpointContents& contents, const std::string& name, const torch::Tensor& out,
                  const std::string& source) {
  auto it = contents.blobs.find(name);
  if (it == contents.blobs.end()) Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + name + "'");
  const torch::Tensor values = TensorFromBytes(it->second, source);
  if (values.scalar_type() != torch::kFloat32 || values.dim() != 1 || values.numel() < out.numel()) {
    Fail(ExitCode::kBadData, source + ": '" + name + "' holds " + std::to_string(values.numel()) +
                                 " values but the network has " + std::to_string(out.numel()) +
                                 " (other network sizes?)");
  }
  torch::NoGradGuard no_grad;
  out.copy_(values.narrow(0, 0, out.numel()));
}

}  // namespace perpetua
