#include "nn/tensor_batch.h"

#include <cmath>
#include <map>
#include <vector>

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

// The inputs of one state (s or s') of `b` transitions.
void ConvertState(const std::map<std::string, Array>& arrays, const InputSpec& spec, int64_t b,
                  const torch::Device& device, const char* group, const std::string& source,
                  torch::Tensor* image, torch::Tensor* proprio) {
  std::vector<torch::Tensor> images;
  for (const std::string& key : spec.image_keys) {
    const Array& img = Find(arrays, key, group, source);
    CheckArray(img, DType::kUint8, {b, spec.height, spec.width, 3}, std::string(group) + " '" + key + "'", source);
    images.push_back(ArrayToTensor(img));
  }
  if (images.size() == 1) {
    *image = images.front().to(device);
  } else if (!images.empty()) {
    *image = torch::cat(images, /*dim=*/3).to(device);
  }
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

TensorBatch ToTensorBatch(const TransitionBatch& batch, const InputSpec& spec, const torch::Device& device,
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
  if (!batch.steps.empty()) {
    if (static_cast<int64_t>(batch.steps.size()) != b) {
      Fail(ExitCode::kBadData, source + ": batch has " + std::to_string(batch.steps.size()) + " step counts for " +
                                   std::to_string(b) + " rewards");
    }
    std::vector<float> steps(batch.steps.begin(), batch.steps.end());
    t.steps = torch::tensor(steps).to(device);
  }
  if (!batch.returns_to_go.empty()) {
    if (static_cast<int64_t>(batch.returns_to_go.size()) != b) {
      Fail(ExitCode::kBadData, source + ": batch has " + std::to_string(batch.returns_to_go.size()) +
                                   " returns for " + std::to_string(b) + " rewards");
    }
    CheckFinite(batch.returns_to_go, "returns", source);
    t.return_to_go = torch::tensor(batch.returns_to_go).to(device);
  }
  return t;
}

void ObservationToTensors(const Observation& observation, const InputSpec& spec, const torch::Device& device,
                          torch::Tensor* image, torch::Tensor* proprio) {
  std::map<std::string, Array> batched;
  auto add = [&](const std::string& key) {
    auto it = observation.find(key);
    if (it == observation.end()) Fail(ExitCode::kBadData, "observation lacks the key '" + key + "' the policy reads");
    Array a = it->second;
    a.shape.insert(a.shape.begin(), 1);
    batched[key] = std::move(a);
  };
  for (const auto& key : spec.image_keys) add(key);
  for (const auto& key : spec.proprio_keys) add(key);
  ConvertState(batched, spec, 1, device, "observation", "policy input", image, proprio);
}

}  // namespace perpetua
