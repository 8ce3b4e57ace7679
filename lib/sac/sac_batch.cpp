#include "sac/sac_batch.h"

#include <cmath>
#include <cstring>
#include <map>

#include "common/error.h"

namespace perpetua {
namespace {

const Array& Lookup(const std::map<std::string, Array>& arrays, const std::string& key, const std::string& group,
                    const std::string& source) {
  auto it = arrays.find(key);
  if (it == arrays.end()) Fail(ExitCode::kBadData, source + ": " + group + " lack the key '" + key + "' the network reads");
  return it->second;
}

void Expect(const Array& array, DType dtype, const std::vector<int64_t>& shape, const std::string& what,
            const std::string& source) {
  if (array.dtype != dtype || array.shape != shape || !array.Consistent()) {
    Fail(ExitCode::kBadData, source + ": " + what + " is " + DTypeName(array.dtype) + " " + ShapeString(array.shape) +
                                 " but the network reads " + DTypeName(dtype) + " " + ShapeString(shape));
  }
}

void ExpectFinite(const float* values, size_t n, const std::string& what, const std::string& source) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) Fail(ExitCode::kBadData, source + ": " + what + " holds a NaN or Inf");
  }
}

// The spec's inputs from `arrays` (each [b, ...]): stacked images and concatenated vectors.
void Convert(const std::map<std::string, Array>& arrays, const SacInputSpec& spec, int64_t b,
             const torch::Device& device, const std::string& group, const std::string& source,
             torch::Tensor* images, torch::Tensor* vectors) {
  std::vector<torch::Tensor> planes;
  for (const auto& key : spec.image_keys) {
    const Array& image = Lookup(arrays, key, group, source);
    Expect(image, DType::kUint8, {b, spec.height, spec.width, 3}, group + " '" + key + "'", source);
    planes.push_back(torch::from_blob(const_cast<void*>(image.data()), image.shape, torch::kUInt8));
  }
  *images = planes.empty() ? torch::Tensor() : torch::cat(planes, /*dim=*/3).to(device);
  torch::Tensor cpu_vectors = torch::empty({b, spec.proprio_dim});
  float* out = cpu_vectors.data_ptr<float>();
  int64_t offset = 0;
  for (size_t k = 0; k < spec.proprio_keys.size(); ++k) {
    const Array& vector = Lookup(arrays, spec.proprio_keys[k], group, source);
    const int64_t n = spec.proprio_sizes[k];
    const std::string what = group + " '" + spec.proprio_keys[k] + "'";
    Expect(vector, DType::kFloat32, {b, n}, what, source);
    ExpectFinite(vector.f32.data(), vector.f32.size(), what, source);
    for (int64_t row = 0; row < b; ++row) {
      std::memcpy(out + row * spec.proprio_dim + offset, vector.f32.data() + row * n, n * sizeof(float));
    }
    offset += n;
  }
  *vectors = cpu_vectors.to(device);
}

}  // namespace

SacBatch ToSacBatch(const TransitionBatch& batch, const SacInputSpec& spec, const torch::Device& device,
                    const std::string& source) {
  const int64_t b = batch.size();
  if (b == 0) Fail(ExitCode::kBadData, source + ": empty batch");
  if (static_cast<int64_t>(batch.terminated.size()) != b) {
    Fail(ExitCode::kBadData, source + ": batch has " + std::to_string(batch.terminated.size()) +
                                 " terminal flags for " + std::to_string(b) + " rewards");
  }
  SacBatch t;
  Convert(batch.observations, spec, b, device, "observations", source, &t.image, &t.proprio);
  Convert(batch.next_observations, spec, b, device, "next observations", source, &t.next_image, &t.next_proprio);
  Expect(batch.actions, DType::kFloat32, {b, spec.action_dim()}, "actions", source);
  ExpectFinite(batch.actions.f32.data(), batch.actions.f32.size(), "actions", source);
  ExpectFinite(batch.rewards.data(), batch.rewards.size(), "rewards", source);
  t.action = torch::tensor(batch.actions.f32).view({b, spec.action_dim()}).to(device);
  t.reward = torch::tensor(batch.rewards).to(device);
  t.terminated = torch::tensor(std::vector<float>(batch.terminated.begin(), batch.terminated.end())).to(device);
  return t;
}

void ObservationToSacInput(const Observation& observation, const SacInputSpec& spec, const torch::Device& device,
                           torch::Tensor* image, torch::Tensor* proprio) {
  std::map<std::string, Array> batched;
  for (const auto* keys : {&spec.image_keys, &spec.proprio_keys}) {
    for (const auto& key : *keys) {
      Array array = Lookup(observation, key, "observations", "policy input");
      array.shape.insert(array.shape.begin(), 1);
      batched.emplace(key, std::move(array));
    }
  }
  Convert(batched, spec, 1, device, "observations", "policy input", image, proprio);
}

}  // namespace perpetua
