#include "nn/tensor_io.h"

#include <cstring>
#include <sstream>

#include "common/error.h"

namespace perpetua {

std::string ModuleToBytes(torch::nn::Module& module) {
  torch::serialize::OutputArchive archive;
  module.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void ModuleFromBytes(torch::nn::Module& module, const std::string& bytes, const std::string& source) {
  try {
    std::istringstream in(bytes);
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    module.load(archive);
  } catch (const c10::Error& e) {
    Fail(ExitCode::kBadData, source + ": network weights do not match the network (" +
                                 std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
}

std::string OptimizerToBytes(torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void OptimizerFromBytes(torch::optim::Optimizer& optimizer, const std::string& bytes,
                        const std::string& source) {
  try {
    std::istringstream in(bytes);
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    Fail(ExitCode::kBadData, source + ": optimiser state does not match the network (" +
                                 std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
}

std::string TensorToBytes(const torch::Tensor& tensor) {
  std::ostringstream out;
  torch::save(tensor.to(torch::kCPU), out);
  return out.str();
}

torch::Tensor TensorFromBytes(const std::string& bytes, const std::string& source) {
  torch::Tensor tensor;
  try {
    std::istringstream in(bytes);
    torch::load(tensor, in);
  } catch (const c10::Error& e) {
    Fail(ExitCode::kBadData, source + ": unreadable tensor (" +
                                 std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return tensor;
}

torch::Tensor ArrayToTensor(const Array& array) {
  PERPETUA_CHECK(array.Consistent());
  const auto dtype = array.dtype == DType::kUint8 ? torch::kUInt8 : torch::kFloat32;
  return torch::from_blob(const_cast<void*>(array.data()), array.shape, dtype).clone();
}

Array TensorToArray(const torch::Tensor& tensor) {
  PERPETUA_CHECK(tensor.scalar_type() == torch::kUInt8 || tensor.scalar_type() == torch::kFloat32);
  const torch::Tensor c = tensor.to(torch::kCPU).contiguous();
  const DType dtype = c.scalar_type() == torch::kUInt8 ? DType::kUint8 : DType::kFloat32;
  Array a = Array::Zeros(dtype, std::vector<int64_t>(c.sizes().begin(), c.sizes().end()));
  std::memcpy(a.data(), c.data_ptr(), static_cast<size_t>(c.numel()) * DTypeSize(dtype));
  return a;
}

void CopyModuleState(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto src = from.named_parameters(/*recurse=*/true);
  auto dst = to.named_parameters(/*recurse=*/true);
  PERPETUA_CHECK(src.size() == dst.size());
  for (const auto& item : src) dst[item.key()].copy_(item.value());
  auto src_buffers = from.named_buffers(/*recurse=*/true);
  auto dst_buffers = to.named_buffers(/*recurse=*/true);
  for (const auto& item : src_buffers) dst_buffers[item.key()].copy_(item.value());
}

void PolyakUpdate(torch::nn::Module& from, torch::nn::Module& to, double tau) {
  torch::NoGradGuard no_grad;
  auto src = from.named_parameters(/*recurse=*/true);
  auto dst = to.named_parameters(/*recurse=*/true);
  for (const auto& item : src) dst[item.key()].mul_(1.0 - tau).add_(item.value(), tau);
}

bool AllParametersFinite(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (const auto& p : module.parameters()) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

}  // namespace perpetua
