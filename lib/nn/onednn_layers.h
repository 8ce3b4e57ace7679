// Inference-only layers through oneDNN (the library LibTorch's CPU kernels
// run on) called directly on the tensors' own memory, with primitives cached
// per thread and shape:
// - OneDnnLinear: at::mkldnn_linear needs its input converted to an oneDNN
//   tensor (to_mkldnn) and its output back (to_dense); for QT-Opt's CEM
//   population, [4096,512] x [512,64], the two copies cost more than the
//   product. Here the matmul reads and writes the dense buffers in place.
// - OneDnnConvRelu: at::mkldnn_convolution builds its primitive on every
//   call, which for one state (acting) costs more than the convolution;
//   here the primitive is built once per shape and only the weights are
//   reordered per call (they change every training step).
// A ReLU after the layer runs as the primitive's post-op. Values are
// LibTorch's to float rounding (the summation order is oneDNN's), the same
// for the same shapes and threads. bench_qtopt_speed measures both;
// docs/train.md, "Threads and speed". Include only from LibTorch
// translation units.
#pragma once

#include <torch/torch.h>

namespace perpetua {

// Whether these layers can take x: a float32 CPU tensor, no autograd, and a
// LibTorch with oneDNN enabled.
bool OneDnnUsable(const torch::Tensor& x);

// out[M,N] = x[M,K] weight[N,K]^T + bias[N] (bias may be undefined), then
// max(0, .) when relu; x, weight and bias contiguous float32 on the CPU.
// Writes into out when it is given ([M,N] contiguous float32), else returns
// a new tensor.
torch::Tensor OneDnnLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, bool relu,
                           torch::Tensor out = {});

// relu(conv2d(x, weight, bias, stride, symmetric zero padding)): x
// [N,C,H,W] float32 (made channels-last if it is not), weight [C',C,kh,kw],
// bias [C'] or undefined; returns [N,C',H',W'] in channels-last memory.
torch::Tensor OneDnnConvRelu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                             int64_t stride, int64_t padding);

}  // namespace perpetua
