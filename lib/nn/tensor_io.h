// Conversions between LibTorch objects and the byte strings / Arrays the rest
// of Perpetua uses (checkpoint blobs, observations). Include only from
// translation units that already use LibTorch.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/array.h"

namespace perpetua {

// A module's parameters and buffers as bytes (torch::serialize archive).
std::string ModuleToBytes(torch::nn::Module& module);
// Loads bytes from ModuleToBytes into a module of the same architecture.
// Throws Error(kBadData) "<source>: ..." if names or shapes do not match.
void ModuleFromBytes(torch::nn::Module& module, const std::string& bytes, const std::string& source);

// Optimiser state (moments, step counts) as bytes, and back. Same errors.
std::string OptimizerToBytes(torch::optim::Optimizer& optimizer);
void OptimizerFromBytes(torch::optim::Optimizer& optimizer, const std::string& bytes,
                        const std::string& source);

// One tensor as bytes, and back (any dtype/shape; loaded on CPU).
std::string TensorToBytes(const torch::Tensor& tensor);
torch::Tensor TensorFromBytes(const std::string& bytes, const std::string& source);

// An Array as a CPU tensor of the same dtype and shape (copies).
torch::Tensor ArrayToTensor(const Array& array);
// A uint8 or float32 tensor (any device) as an Array of the same dtype and shape (copies).
Array TensorToArray(const torch::Tensor& tensor);

// Copies every parameter and buffer of `from` into `to` (same architecture).
void CopyModuleState(torch::nn::Module& from, torch::nn::Module& to);
// to = (1 - tau) * to + tau * from, parameter by parameter (Polyak averaging).
void PolyakUpdate(torch::nn::Module& from, torch::nn::Module& to, double tau);
// True if every parameter of `module` is finite.
bool AllParametersFinite(torch::nn::Module& module);

}  // namespace perpetua
