#include "qtopt/q_network.h"

#include <algorithm>

#include "common/error.h"
#include "nn/checkpoint.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

int64_t ConvOut(int64_t size, int kernel, int stride) { return (size + 2 * (kernel / 2) - kernel) / stride + 1; }

}  // namespace

nlohmann::json QNetworkConfig::ToJson() const {
  return {{"encoder_channels", encoder_channels}, {"head_channels", head_channels}, {"hidden", hidden}};
}

QNetworkConfig QNetworkConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  QNetworkConfig c;
  c.encoder_channels = MetadataField<std::vector<int>>(json, "encoder_channels", source);
  c.head_channels = MetadataField<std::vector<int>>(json, "head_channels", source);
  c.hidden = MetadataField<int>(json, "hidden", source);
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
}

QInputSpec QInputSpec::FromEnvSpec(const EnvSpec& env, const std::string& source) {
  QInputSpec spec;
  for (const ObservationSpec& obs : env.observations) {
    const bool image = obs.dtype == DType::kUint8 && obs.shape.size() == 3 && obs.shape[2] == 3;
    if (image) {
      if (!spec.image_key.empty()) {
        Fail(ExitCode::kBadData, source + ": QT-Opt takes one image but the data has two ('" +
                                     spec.image_key + "' and '" + obs.key + "')");
      }
      spec.image_key = obs.key;
      spec.height = obs.shape[0];
      spec.width = obs.shape[1];
    } else if (obs.dtype == DType::kFloat32 && obs.shape.size() == 1) {
      spec.proprio_keys.push_back(obs.key);
      spec.proprio_sizes.push_back(obs.shape[0]);
      spec.proprio_dim += obs.shape[0];
    } else {
      Fail(ExitCode::kBadData, source + ": observation '" + obs.key + "' (" + DTypeName(obs.dtype) + " " +
                                   ShapeString(obs.shape) +
                                   ") is neither an [H,W,3] uint8 image nor a float32 vector");
    }
  }
  // Vector observations are concatenated in key order, whatever order a spec lists them in.
  std::vector<size_t> order(spec.proprio_keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return spec.proprio_keys[a] < spec.proprio_keys[b]; });
  std::vector<std::string> keys;
  std::vector<int64_t> sizes;
  for (size_t i : order) {
    keys.push_back(spec.proprio_keys[i]);
    sizes.push_back(spec.proprio_sizes[i]);
  }
  spec.proprio_keys = keys;
  spec.proprio_sizes = sizes;
  if (spec.image_key.empty()) Fail(ExitCode::kBadData, source + ": QT-Opt needs an [H,W,3] uint8 image observation");
  if (env.action.dim() == 0) Fail(ExitCode::kBadData, source + ": the action space is empty");
  spec.action_low = env.action.low;
  spec.action_high = env.action.high;
  return spec;
}

nlohmann::json QInputSpec::ToJson() const {
  return {{"image_key", image_key},       {"height", height},
          {"width", width},               {"proprio_keys", proprio_keys},
          {"proprio_sizes", proprio_sizes}, {"action_low", action_low},
          {"action_high", action_high}};
}

QInputSpec QInputSpec::FromJson(const nlohmann::json& json, const std::string& source) {
  QInputSpec s;
  s.image_key = MetadataField<std::string>(json, "image_key", source);
  s.height = MetadataField<int64_t>(json, "height", source);
  s.width = MetadataField<int64_t>(json, "width", source);
  s.proprio_keys = MetadataField<std::vector<std::string>>(json, "proprio_keys", source);
  s.proprio_sizes = MetadataField<std::vector<int64_t>>(json, "proprio_sizes", source);
  s.action_low = MetadataField<std::vector<float>>(json, "action_low", source);
  s.action_high = MetadataField<std::vector<float>>(json, "action_high", source);
  if (s.proprio_keys.size() != s.proprio_sizes.size() || s.action_low.size() != s.action_high.size() ||
      s.height <= 0 || s.width <= 0 || s.action_low.empty()) {
    Fail(ExitCode::kBadData, source + ": checkpoint input spec is inconsistent");
  }
  for (int64_t n : s.proprio_sizes) {
    if (n < 0 || n > (int64_t{1} << 32)) Fail(ExitCode::kBadData, source + ": checkpoint input spec has a bad vector size");
    s.proprio_dim += n;
  }
  return s;
}

std::string QInputSpec::Difference(const QInputSpec& o) const {
  auto vec = [](const std::vector<float>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]).substr(0, 6);
    return s + "]";
  };
  if (image_key != o.image_key) return "image key '" + image_key + "' vs '" + o.image_key + "'";
  if (height != o.height || width != o.width) {
    return "image size " + std::to_string(height) + "x" + std::to_string(width) + " vs " +
           std::to_string(o.height) + "x" + std::to_string(o.width);
  }
  if (proprio_keys != o.proprio_keys || proprio_sizes != o.proprio_sizes) {
    return "vector observations differ (" + std::to_string(proprio_dim) + " vs " +
           std::to_string(o.proprio_dim) + " values)";
  }
  if (action_low.size() != o.action_low.size()) {
    return "action dimension " + std::to_string(action_low.size()) + " vs " + std::to_string(o.action_low.size());
  }
  if (action_low != o.action_low || action_high != o.action_high) {
    return "action bounds " + vec(action_low) + ".." + vec(action_high) + " vs " + vec(o.action_low) + ".." +
           vec(o.action_high);
  }
  return "";
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
  const int64_t merge_channels = in;
  action_mlp_ = register_module(
      "action_mlp", torch::nn::Sequential(torch::nn::Linear(spec.action_dim() + spec.proprio_dim, config.hidden),
                                          torch::nn::ReLU(), torch::nn::Linear(config.hidden, merge_channels)));
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

torch::Tensor QNetworkImpl::Embed(const torch::Tensor& image) {
  torch::Tensor x = image.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0).sub(0.5);
  for (auto& layer : *encoder_) x = torch::relu(layer->as<torch::nn::Conv2d>()->forward(x));
  return x;
}

torch::Tensor QNetworkImpl::Head(const torch::Tensor& embedding, const torch::Tensor& proprio,
                                 const torch::Tensor& action) {
  const torch::Tensor merged_input = spec_.proprio_dim > 0 ? torch::cat({action, proprio}, 1) : action;
  const torch::Tensor m = action_mlp_->forward(merged_input);
  torch::Tensor x = torch::relu(embedding + m.unsqueeze(-1).unsqueeze(-1));
  for (auto& layer : *head_convs_) x = torch::relu(layer->as<torch::nn::Conv2d>()->forward(x));
  x = torch::relu(fc_->forward(x.flatten(1)));
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
