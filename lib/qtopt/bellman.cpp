#include "qtopt/bellman.h"

#include <cmath>

#include "common/error.h"
#include "nn/tensor_io.h"

namespace perpetua {
namespace {

const Array& Find(const std::map<std::string, Array>& arrays, const std::string& key, const char* group,
                  const std::string& source) {
  auto it = arrays.find(key);
  if (it == arrays.end()) {
    Fail(ExitCode::kBadData, source + ": " + group + " lack the key '" + key + "' the network reads");
  }
  return it->second;
}

void CheckArray(const Array& array, DType dtype, const std::vector<int64_t>& shape, const std::string& what,
                const std::string& source) {
  if (array.dtype != dtype || array.shape != shape || !array.Consistent()) {
    Fail(ExitCode::kBadData, source + ": " + what + " is " + DTypeName(array.dtype) + " " +
                                 ShapeString(array.shape) + " but the network expects " + DTypeName(dtype) +
                                 " " + ShapeString(shape));
  }
}

void CheckFinite(const std::vector<float>& values, const std::string& what, const std::string& source) {
  for (float v : values) {
    if (!std::isfinite(v)) Fail(ExitCode::kBadData, source + ": " + what + " holds a NaN or Inf");
  }
}

void ConvertState(const std::map<std::string, Array>& arrays, const QInputSpec& spec, int64_t b,
                  const torch::Device& device, const char* group, const std::string& source,
                  torch::Tensor* image, torch::Tensor* proprio) {
  const Array& img = Find(arrays, spec.image_key, group, source);
  CheckArray(img, DType::kUint8, {b, spec.height, spec.width, 3}, std::string(group) + " '" + spec.image_key + "'",
             source);
  *image = ArrayToTensor(img).to(device);
  std::vector<torch::Tensor> parts;
  for (size_t i = 0; i < spec.proprio_keys.size(); ++i) {
    const Array& v = Find(arrays, spec.proprio_keys[i], group, source);
    const std::string what = std::string(group) + " '" + spec.proprio_keys[i] + "'";
    CheckArray(v, DType::kFloat32, {b, spec.proprio_sizes[i]}, what, source);
    CheckFinite(v.f32, what, source);
    parts.push_back(ArrayToTensor(v));
  }
  *proprio = (parts.empty() ? torch::zeros({b, 0}) : torch::cat(parts, 1)).to(device);
}

}  // namespace

void BellmanConfig::Validate(const std::string& prefix) const {
  if (!(gamma >= 0.0 && gamma <= 1.0)) Fail(ExitCode::kUsage, "--" + prefix + ".gamma must be in [0, 1]");
  if (!(tau > 0.0 && tau <= 1.0)) Fail(ExitCode::kUsage, "--" + prefix + ".tau must be in (0, 1]");
  if (!std::isfinite(step_penalty)) Fail(ExitCode::kUsage, "--" + prefix + ".step-penalty must be finite");
  if (lag_steps < 1) Fail(ExitCode::kUsage, "--" + prefix + ".lag-steps must be >= 1");
}

TensorBatch ToTensorBatch(const TransitionBatch& batch, const QInputSpec& spec, const torch::Device& device,
                          const std::string& source) {
  const int64_t b = batch.size();
  if (b == 0) Fail(ExitCode::kBadData, source + ": empty batch");
  if (static_cast<int64_t>(batch.terminated.size()) != b) {
    Fail(ExitCode::kBadData, source + ": batch has " + std::to_string(batch.terminated.size()) +
                                 " terminal flags for " + std::to_string(b) + " rewards");
  }
  TensorBatch t;
  ConvertState(batch.observations, spec, b, device, "observations", source, &t.image, &t.proprio);
  ConvertState(batch.next_observations, spec, b, device, "next observations", source, &t.next_image,
               &t.next_proprio);
  CheckArray(batch.actions, DType::kFloat32, {b, spec.action_dim()}, "actions", source);
  CheckFinite(batch.actions.f32, "actions", source);
  CheckFinite(batch.rewards, "rewards", source);
  t.action = ArrayToTensor(batch.actions).to(device);
  t.reward = torch::tensor(batch.rewards).to(device);
  std::vector<float> terminal(batch.terminated.begin(), batch.terminated.end());
  t.terminated = torch::tensor(terminal).to(device);
  return t;
}

void ObservationToTensors(const Observation& observation, const QInputSpec& spec, const torch::Device& device,
                          torch::Tensor* image, torch::Tensor* proprio) {
  std::map<std::string, Array> batched;
  auto add = [&](const std::string& key) {
    auto it = observation.find(key);
    if (it == observation.end()) Fail(ExitCode::kBadData, "observation lacks the key '" + key + "' the policy reads");
    Array a = it->second;
    a.shape.insert(a.shape.begin(), 1);
    batched[key] = std::move(a);
  };
  add(spec.image_key);
  for (const auto& key : spec.proprio_keys) add(key);
  ConvertState(batched, spec, 1, device, "observation", "policy input", image, proprio);
}

torch::Tensor MaximizeQ(QNetworkImpl& network, const torch::Tensor& image, const torch::Tensor& proprio,
                        const CemConfig& cem, at::Generator& generator, torch::Tensor* embedding_out) {
  torch::NoGradGuard no_grad;
  const int64_t b = image.size(0);
  const int64_t n = cem.samples;
  const torch::Tensor embedding = network.Embed(image);  // [B,C,h,w], once per state
  if (embedding_out) *embedding_out = embedding;
  const auto& e = embedding.sizes();
  const torch::Tensor tiled = embedding.unsqueeze(1).expand({b, n, e[1], e[2], e[3]}).reshape({b * n, e[1], e[2], e[3]});
  const torch::Tensor tiled_proprio = proprio.unsqueeze(1).expand({b, n, proprio.size(1)}).reshape({b * n, proprio.size(1)});
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(image.device());
  const torch::Tensor low = torch::tensor(network.spec().action_low).to(options.device());
  const torch::Tensor high = torch::tensor(network.spec().action_high).to(options.device());
  const ActionScorer score = [&](const torch::Tensor& actions) {
    return network.Head(tiled, tiled_proprio, actions.reshape({b * n, -1})).view({b, n});
  };
  return CemMaximize(cem, b, low, high, score, generator);
}

torch::Tensor ComputeTargets(const TensorBatch& batch, QNetworkImpl& target1, QNetworkImpl& target2,
                             const CemConfig& cem, const BellmanConfig& bellman, at::Generator& generator,
                             TargetStats* stats) {
  torch::NoGradGuard no_grad;
  torch::Tensor embedding;
  const torch::Tensor best = MaximizeQ(target1, batch.next_image, batch.next_proprio, cem, generator, &embedding);
  const torch::Tensor q1 = torch::sigmoid(target1.Head(embedding, batch.next_proprio, best));
  const torch::Tensor q2 = torch::sigmoid(target2.forward(batch.next_image, batch.next_proprio, best));
  const torch::Tensor value = torch::min(q1, q2);
  const torch::Tensor target =
      (batch.reward - bellman.step_penalty + bellman.gamma * (1.0 - batch.terminated) * value).clamp(0.0, 1.0);
  if (stats) {
    stats->target_mean = target.mean().item<double>();
    stats->next_value_mean = value.mean().item<double>();
    stats->terminal_fraction = batch.terminated.mean().item<double>();
  }
  return target;
}

}  // namespace perpetua
