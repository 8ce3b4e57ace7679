// LibTorch process settings, kept out of every other header.
//
// DESIGN.md measured that an explicit thread count (with OpenBLAS's OpenMP
// build) is 3x faster than the defaults on the 2-core machine, so every tool
// that runs networks calls ConfigureTorchRuntime() once before any tensor work.
#pragma once

#include <string>

namespace perpetua {

// What device a tool asked for ("cpu", "cuda", "cuda:1") after validation.
struct TorchRuntime {
  std::string device = "cpu";  // canonical device string
  int threads = 0;             // intra-op threads actually set
};

// Sets LibTorch's intra-op thread count (0 = number of cores), keeps freed
// tensor memory in the process (RetainFreedMemory(true); the environment
// variable PERPETUA_MALLOC=default leaves glibc's settings alone) and
// validates `device`. Throws Error(kUsage) for an unknown device string and
// Error(kEnvFailure) when CUDA is asked for but this LibTorch has none.
TorchRuntime ConfigureTorchRuntime(const std::string& device, int threads);

// Tensors of a training step (batches, activations: 0.1-10 MB each) are
// freed and allocated again every step. With glibc's defaults each is a
// fresh mmap whose pages the kernel zeroes on first touch, and freeing trims
// the heap back: half of a small CPU trainer's time went to the kernel
// (docs/train.md). true: allocations up to 32 MiB come from the heap and up
// to 512 MiB of freed heap is kept for reuse; false: glibc's defaults (for
// benchmarks). Process-wide and thread-safe (glibc locks the arenas), so
// ConfigureTorchRuntime may repeat it when a collector reloads a policy.
void RetainFreedMemory(bool retain);

// True if this LibTorch build can use a CUDA device now.
bool CudaAvailable();

}  // namespace perpetua
