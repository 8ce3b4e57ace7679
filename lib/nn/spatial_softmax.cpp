#include "nn/spatial_softmax.h"

namespace perpetua {

torch::Tensor SpatialSoftmax(const torch::Tensor& features, const torch::Tensor& log_temperature) {
  const int64_t b = features.size(0), k = features.size(1), h = features.size(2), w = features.size(3);
  const torch::Tensor weights =
      torch::softmax(features.reshape({b, k, h * w}) * torch::exp(-log_temperature), 2).view({b, k, h, w});
  const auto grid = torch::TensorOptions().dtype(features.scalar_type()).device(features.device());
  const torch::Tensor kx = (weights.sum(2) * torch::linspace(-1, 1, w, grid)).sum(2);  // [B,K]
  const torch::Tensor ky = (weights.sum(3) * torch::linspace(-1, 1, h, grid)).sum(2);
  return torch::cat({kx, ky}, 1);
}

}  // namespace perpetua
