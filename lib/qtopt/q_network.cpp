#include "qtopt/q_network.h"

#include "common/error.h"
#include "nn/checkpoint.h"
#include "nn/onednn_layers.h"
#include "nn/spatial_softmax.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

int64_t ConvOut(int64_t size, int kernel, int stride) { return (size + 2 * (kernel / 2) - kernel) / stride + 1; }

// x [N,in] float32 -> linear(x) [N,out] (relu'd when asked), without
// autograd. On the CPU through oneDNN on the tensors' memory once the layer
// has work enough (N x in >= 16384): the CEM population's FC layer
// ([4096,512] x [512,64]) runs several times faster there than through the
// BLAS of at::linear. The threshold is stop 46's, measured when the oneDNN
// path still copied its input (smaller layers were faster through
// at::linear then); not measured again since (docs/train.md).
torch::Tensor InferenceLinear(torch::nn::LinearImpl& layer, const torch::Tensor& x, bool relu) {
  if (OneDnnUsable(x) && x.size(0) * x.size(1) >= 16384) return OneDnnLinear(x.contiguous(), layer.weight, layer.bias, relu);
  return relu ? layer.forward(x).relu_() : layer.forward(x);
}

// A stride-2 conv with padding kernel/2 (every conv of the network), plus
// ReLU. Without autograd on the CPU through oneDNN directly with a cached
// primitive (nn/onednn_layers.h): for one state (acting) at::conv2d picks a
// slower im2col path for the 16- and 32-channel layers, and
// at::mkldnn_convolution builds its primitive on every call.
torch::Tensor ConvRelu(torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  if (OneDnnUsable(x)) return OneDnnConvRelu(x, conv.weight, conv.bias, 2, conv.weight.size(2) / 2);
  return conv.forward(x).relu_();  // in place: the convolution's backward does not read its output
}
}  // namespace

nlohmann::json QNetworkConfig::ToJson() const {
  return {{"encoder_channels", encoder_channels},
          {"head_channels", head_channels},
          {"hidden", hidden},
          {"keypoints", keypoints}};
}

QNetworkConfig QNetworkConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  QNetworkConfig c;
  c.encoder_channels = MetadataField<std::vector<int>>(json, "encoder_channels", source);
  c.head_channels = MetadataField<std::vector<int>>(json, "head_channels", source);
  c.hidden = MetadataField<int>(json, "hidden", source);
  c.keypoints = MetadataValue<int>(json, "keypoints", 0, source);  // absent before keypoints existed
  try {
    c.Validate("network");
  } catch (const Error& e) {
    Fail(ExitCode::kBadData, source + ": " + e.what());
  }
  return c;
}

void QNetworkConfig::Validate(const std::string& prefix) const {
  if (encoder_channels.empty()) Fail(ExitCode::kUsage, "--" + prefix + ".encoder-channels must list at least one layer");
  for (int c : encoder_channels) {
    if (c <= 0) Fail(ExitCode::kUsage, "--" + prefix + ".encoder-channels must be positive");
  }
  for (int c : head_channels) {
    if (c <= 0) Fail(ExitCode::kUsage, "--" + prefix + ".head-channels must be positive");
  }
  if (hidden <= 0) Fail(ExitCode::kUsage, "--" + prefix + ".hidden must be positive, got " + std::to_string(hidden));
  if (keypoints < 0) {
    Fail(ExitCode::kUsage, "--" + prefix + ".keypoints must be 0 (off) or positive, got " + std::to_string(keypoints));
  }
  if (keypoints > 0 && !head_channels.empty()) {
    Fail(ExitCode::kUsage, "--" + prefix + ".keypoints and --" + prefix +
                               ".head-channels exclude each other (keypoints have no map to convolve)");
  }
}

namespace {

QInputSpec OneImage(InputSpec spec, const std::string& source) {
  if (spec.image_keys.size() > 1) {
    Fail(ExitCode::kBadData, source + ": QT-Opt takes one image but the data has two ('" + spec.image_keys[0] +
                                 "' and '" + spec.image_keys[1] + "')");
  }
  if (spec.image_keys.empty()) Fail(ExitCode::kBadData, source + ": QT-Opt needs an [H,W,3] uint8 image observation");
  QInputSpec q;
  static_cast<InputSpec&>(q) = std::move(spec);
  return q;
}

}  // namespace

QInputSpec QInputSpec::FromEnvSpec(const EnvSpec& env, const std::string& source) {
  return OneImage(InputSpec::FromEnvSpec(env, source), source);
}

QInputSpec QInputSpec::FromJson(const nlohmann::json& json, const std::string& source) {
  return OneImage(InputSpec::FromJson(json, source), source);
}

uint64_t QNetworkImpl::ParameterCount(const QNetworkConfig& config, const QInputSpec& spec) {
  // Mirrors the constructor below layer by layer; tests pin it to CountParameters().
  long double total = 0;
  const auto linear = [&](long double in, long double out) { total += in * out + out; };
  const auto conv = [&](long double in, long double out, int kernel) { total += in * out * kernel * kernel + out; };
  long double in = 3;
  int64_t h = spec.height, w = spec.width;
  for (size_t i = 0; i < config.encoder_channels.size(); ++i) {
    const int kernel = i == 0 ? 5 : 3;
    conv(in, config.encoder_channels[i], kernel);
    in = config.encoder_channels[i];
    h = ConvOut(h, kernel, 2);
    w = ConvOut(w, kernel, 2);
  }
  if (config.keypoints > 0) {
    const long double k = config.keypoints;
    conv(in, k, 1);
    total += 1;                                        // log temperature
    linear(2 * k + spec.proprio_dim, config.hidden);   // state_in
    total += static_cast<long double>(spec.action_dim()) * config.hidden;  // action_in (no bias)
    linear(config.hidden, config.hidden);              // fc
    linear(config.hidden, 1);                          // out
    return total >= 1.8e19L ? UINT64_MAX : static_cast<uint64_t>(total);
  }
  linear(static_cast<long double>(spec.action_dim()) + spec.proprio_dim, config.hidden);
  linear(config.hidden, in);
  for (int out : config.head_channels) {
    conv(in, out, 3);
    in = out;
    h = ConvOut(h, 3, 2);
    w = ConvOut(w, 3, 2);
  }
  linear(in * h * w, config.hidden);
  linear(config.hidden, 1);
  return total >= 1.8e19L ? UINT64_MAX : static_cast<uint64_t>(total);
}

QNetworkImpl::QNetworkImpl(const QNetworkConfig& config, const QInputSpec& spec)
    : config_(config), spec_(spec) {
  encoder_ = register_module("encoder", torch::nn::ModuleList());
  int64_t in = 3, h = spec.height, w = spec.width;
  for (size_t i = 0; i < config.encoder_channels.size(); ++i) {
    const int kernel = i == 0 ? 5 : 3;
    const int out = config.encoder_channels[i];
    encoder_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, out, kernel).stride(2).padding(kernel / 2)));
    in = out;
    h = ConvOut(h, kernel, 2);
    w = ConvOut(w, kernel, 2);
  }
  action_low_ = torch::tensor(spec.action_low, torch::kFloat32);
  action_high_ = torch::tensor(spec.action_high, torch::kFloat32);
  if (spec.terminate_index >= 0) {
    std::vector<float> canonical(spec.action_low.size());
    for (size_t i = 0; i < canonical.size(); ++i) canonical[i] = 0.5f * (spec.action_low[i] + spec.action_high[i]);
    canonical[static_cast<size_t>(spec.terminate_index)] = spec.action_high[static_cast<size_t>(spec.terminate_index)];
    canonical_terminate_ = torch::tensor(canonical).view({1, -1});
  }
  if (config.keypoints > 0) {
    const int64_t k = config.keypoints;
    keypoint_conv_ = register_module("keypoint_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, k, 1)));
    log_temperature_ = register_parameter("log_temperature", torch::zeros({1}));
    state_in_ = register_module("state_in", torch::nn::Linear(2 * k + spec.proprio_dim, config.hidden));
    action_in_ = register_module(
        "action_in", torch::nn::Linear(torch::nn::LinearOptions(spec.action_dim(), config.hidden).bias(false)));
    fc_ = register_module("fc", torch::nn::Linear(config.hidden, config.hidden));
    out_ = register_module("out", torch::nn::Linear(config.hidden, 1));
    return;
  }
  const int64_t merge_channels = in;
  // Built last layer first: the order in which GCC evaluated the arguments of
  // the former Sequential(Linear, ReLU, Linear), so a seed draws the same weights.
  action_out_ = torch::nn::Linear(config.hidden, merge_channels);
  action_in_ = torch::nn::Linear(spec.action_dim() + spec.proprio_dim, config.hidden);
  action_mlp_ = register_module("action_mlp", torch::nn::Sequential(action_in_, torch::nn::ReLU(), action_out_));
  head_convs_ = register_module("head_convs", torch::nn::ModuleList());
  for (int out : config.head_channels) {
    head_convs_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
    in = out;
    h = ConvOut(h, 3, 2);
    w = ConvOut(w, 3, 2);
  }
  fc_ = register_module("fc", torch::nn::Linear(in * h * w, config.hidden));
  out_ = register_module("out", torch::nn::Linear(config.hidden, 1));
}

torch::Tensor QNetworkImpl::Normalize(const torch::Tensor& image) {
  // One conversion pass, then in place; the same operations (and values) as
  // the former permute().to().div().sub(), which allocated three buffers.
  return image.to(torch::kFloat32).div_(255.0).sub_(0.5).permute({0, 3, 1, 2});
}

torch::Tensor QNetworkImpl::EmbedNormalized(const torch::Tensor& normalized) {
  torch::Tensor x = normalized;
  for (auto& layer : *encoder_) x = ConvRelu(*layer->as<torch::nn::Conv2d>(), x);
  if (config_.keypoints == 0) return x;
  // Spatial softmax: each channel's softmax over the map is a distribution
  // of where its feature is; its mean (x, y) in [-1,1] is the keypoint.
  return SpatialSoftmax(keypoint_conv_->forward(x), log_temperature_);
}

torch::Tensor QNetworkImpl::Embed(const torch::Tensor& image) { return EmbedNormalized(Normalize(image)); }

torch::Tensor QNetworkImpl::Scores(const torch::Tensor& embedding, const torch::Tensor& proprio,
                                   const torch::Tensor& raw_actions) {
  PERPETUA_CHECK(!torch::GradMode::is_enabled());
  const int64_t b = raw_actions.size(0), n = raw_actions.size(1);
  if (config_.keypoints > 0) {
    // The state's part of the first layer once per state, broadcast to its N actions.
    const torch::Tensor actions = CanonicalActions(raw_actions.reshape({b * n, -1}));
    const torch::Tensor state = StateInput(embedding, proprio);  // [B,H]
    const torch::Tensor hidden =
        torch::add(InferenceLinear(*action_in_, actions, false).view({b, n, -1}), state.unsqueeze(1)).relu_();
    const torch::Tensor x = InferenceLinear(*fc_, hidden.view({b * n, -1}), true);
    return out_->forward(x).view({b, n});
  }
  const int64_t c = embedding.size(1), h = embedding.size(2), w = embedding.size(3);
  // Terminating actions read as the canonical one, as in Head().
  const torch::Tensor actions = CanonicalActions(raw_actions.reshape({b * n, -1})).view({b, n, -1});
  // [B,N,A+P]: each state's proprio broadcast to its N actions by cat itself.
  const torch::Tensor merged_input =
      spec_.proprio_dim > 0 ? torch::cat({actions, proprio.unsqueeze(1).expand({b, n, proprio.size(1)})}, 2)
                            : actions;
  const torch::Tensor hidden = InferenceLinear(*action_in_, merged_input.view({b * n, -1}), true);
  const torch::Tensor m = InferenceLinear(*action_out_, hidden, false);  // [B*N,C]
  if (head_convs_->size() == 0 && OneDnnUsable(embedding)) {
    // fc(relu(E + m)) a block of states at a time: relu(E + m) for about
    // 512 rows stays in the cache between its add and the product, instead
    // of a [B*N, C*h*w] buffer (8 MB for CEM's 64 x 64) written and read
    // back from memory. The unblocked path's values to float rounding.
    const torch::Tensor e = embedding.contiguous().view({b, 1, c, h * w});
    const torch::Tensor m4 = m.view({b, n, c, 1});
    const int64_t per_block = std::min<int64_t>(b, std::max<int64_t>(1, 512 / n));
    torch::Tensor merged = torch::empty({per_block, n, c, h * w}, embedding.options());
    torch::Tensor x = torch::empty({b * n, fc_->weight.size(0)}, embedding.options());
    for (int64_t b0 = 0; b0 < b; b0 += per_block) {
      const int64_t s = std::min(per_block, b - b0);
      torch::Tensor block = merged.narrow(0, 0, s);
      at::add_out(block, e.narrow(0, b0, s), m4.narrow(0, b0, s)).relu_();
      OneDnnLinear(block.view({s * n, c * h * w}), fc_->weight, fc_->bias, /*relu=*/true, x.narrow(0, b0 * n, s * n));
    }
    return out_->forward(x).view({b, n});
  }
  // relu(E + m) straight into one [B,N,C,h*w] buffer: the embedding is read
  // through a broadcast, never copied per action.
  torch::Tensor x = torch::add(embedding.contiguous().view({b, 1, c, h * w}), m.view({b, n, c, 1})).relu_();
  if (head_convs_->size() > 0) {
    x = x.view({b * n, c, h, w});
    for (auto& layer : *head_convs_) x = ConvRelu(*layer->as<torch::nn::Conv2d>(), x);
  }
  x = InferenceLinear(*fc_, x.reshape({b * n, -1}), true);
  return out_->forward(x).view({b, n});
}

torch::Tensor QNetworkImpl::StateInput(const torch::Tensor& keypoints, const torch::Tensor& proprio) {
  return state_in_->forward(spec_.proprio_dim > 0 ? torch::cat({keypoints, proprio}, 1) : keypoints);
}

torch::Tensor QNetworkImpl::CanonicalActions(const torch::Tensor& action) {
  if (spec_.terminate_index < 0) return action;
  // Read-only here: target workers call Head from several threads.
  const torch::Tensor canonical = canonical_terminate_.device() == action.device()
                                      ? canonical_terminate_
                                      : canonical_terminate_.to(action.device());
  const torch::Tensor terminates = action.select(1, spec_.terminate_index).gt(0).unsqueeze(1);
  return torch::where(terminates, canonical, action);
}

torch::Tensor QNetworkImpl::Head(const torch::Tensor& embedding, const torch::Tensor& proprio,
                                 const torch::Tensor& raw_action) {
  const torch::Tensor action = CanonicalActions(raw_action);
  if (config_.keypoints > 0) {
    const torch::Tensor hidden = (StateInput(embedding, proprio) + action_in_->forward(action)).relu_();
    return out_->forward(fc_->forward(hidden).relu_()).squeeze(1);
  }
  const torch::Tensor merged_input = spec_.proprio_dim > 0 ? torch::cat({action, proprio}, 1) : action;
  const torch::Tensor m = action_mlp_->forward(merged_input);
  // ReLUs in place: none of the layers before them reads its output in backward.
  torch::Tensor x = (embedding + m.unsqueeze(-1).unsqueeze(-1)).relu_();
  for (auto& layer : *head_convs_) x = ConvRelu(*layer->as<torch::nn::Conv2d>(), x);
  x = fc_->forward(x.flatten(1)).relu_();
  return out_->forward(x).squeeze(1);
}

torch::Tensor QNetworkImpl::forward(const torch::Tensor& image, const torch::Tensor& proprio,
                                    const torch::Tensor& action) {
  return Head(Embed(image), proprio, action);
}

QNetwork CloneNetwork(QNetworkImpl& network, const torch::Device& device) {
  QNetwork copy(network.config(), network.spec());
  copy->to(device);
  CopyModuleState(network, *copy);
  return copy;
}

int64_t CountParameters(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace perpetua
