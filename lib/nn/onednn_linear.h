// Inference-only linear layers through oneDNN's matmul on the tensors' own
// memory. at::mkldnn_linear needs its input converted to an oneDNN tensor
// (to_mkldnn) and its output back (to_dense): for QT-Opt's CEM population,
// [4096,512] x [512,64], the two copies cost more than the product. Here
// oneDNN reads and writes the dense buffers in place, and a ReLU after the
// layer runs as the product's post-op. The values are at::linear's to float
// rounding (the summation order is oneDNN's), the same for the same shapes
// and threads. Primitives are cached per thread and shape. Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

namespace perpetua {

// Whether OneDnnLinear can take x: a float32 CPU tensor, no autograd, and a
// LibTorch with oneDNN enabled.
bool OneDnnLinearUsable(const torch::Tensor& x);

// out[M,N] = x[M,K] weight[N,K]^T + bias[N] (bias may be undefined), then
// max(0, .) when relu; x, weight and bias contiguous float32 on the CPU.
// Writes into out when it is given ([M,N] contiguous float32), else returns
// a new tensor.
torch::Tensor OneDnnLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, bool relu,
                           torch::Tensor out = {});

}  // namespace perpetua
