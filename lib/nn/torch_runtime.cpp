#include "nn/torch_runtime.h"

#include <torch/torch.h>

#include <malloc.h>

#include <cstdlib>
#include <thread>

#include "common/error.h"

namespace perpetua {

bool CudaAvailable() { return torch::cuda::is_available(); }

void RetainFreedMemory(bool retain) {
  // glibc's defaults: a 128 KiB mmap threshold (then adjusted dynamically),
  // 128 KiB trim threshold, no top pad. 32 MiB is the largest mmap threshold glibc takes.
  mallopt(M_MMAP_THRESHOLD, retain ? 32 << 20 : 128 << 10);
  mallopt(M_TRIM_THRESHOLD, retain ? 512 << 20 : 128 << 10);
  mallopt(M_TOP_PAD, retain ? 16 << 20 : 0);
  if (!retain) malloc_trim(0);  // give back what was kept, as the defaults would have
}

TorchRuntime ConfigureTorchRuntime(const std::string& device, int threads) {
  TorchRuntime runtime;
  if (threads < 0) Fail(ExitCode::kUsage, "--threads must be >= 0, got " + std::to_string(threads));
  runtime.threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(runtime.threads);
  const char* malloc_setting = std::getenv("PERPETUA_MALLOC");
  if (malloc_setting == nullptr || std::string(malloc_setting) != "default") RetainFreedMemory(true);
  try {
    const torch::Device parsed(device);
    if (parsed.is_cuda() && !CudaAvailable()) {
      Fail(ExitCode::kUsage, "device '" + device + "' requested but this LibTorch build has no usable CUDA device");
    }
    if (!parsed.is_cpu() && !parsed.is_cuda()) {
      Fail(ExitCode::kUsage, "device '" + device + "' is not supported (use cpu or cuda[:N])");
    }
    runtime.device = parsed.str();
  } catch (const c10::Error&) {
    Fail(ExitCode::kUsage, "device '" + device + "' is not a device name (use cpu or cuda[:N])");
  }
  return runtime;
}

}  // namespace perpetua
