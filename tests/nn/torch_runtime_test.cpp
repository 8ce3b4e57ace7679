// Process settings for LibTorch: the allocator keeps freed tensor memory in
// the heap (no mmap per large tensor) and can be put back to glibc's defaults.
#include "nn/torch_runtime.h"

#include <doctest/doctest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace perpetua {
namespace {

// Whether a fresh 4 MiB block (a batch of 64x64 images) is served by its own mmap.
bool LargeBlockIsMapped() {
  const size_t before = mallinfo2().hblks;
  void* block = std::malloc(4 << 20);
  REQUIRE(block != nullptr);
  std::memset(block, 1, 4 << 20);
  const bool mapped = mallinfo2().hblks > before;
  std::free(block);
  return mapped;
}

TEST_CASE("RetainFreedMemory serves tensor-sized blocks from the heap and can be undone") {
  RetainFreedMemory(false);
  CHECK(LargeBlockIsMapped());
  RetainFreedMemory(true);
  CHECK_FALSE(LargeBlockIsMapped());
  RetainFreedMemory(false);
  CHECK(LargeBlockIsMapped());
}

TEST_CASE("ConfigureTorchRuntime retains freed memory unless PERPETUA_MALLOC=default") {
  RetainFreedMemory(false);
  ::setenv("PERPETUA_MALLOC", "default", 1);
  ConfigureTorchRuntime("cpu", 1);
  CHECK(LargeBlockIsMapped());
  ::unsetenv("PERPETUA_MALLOC");
  ConfigureTorchRuntime("cpu", 1);
  CHECK_FALSE(LargeBlockIsMapped());
  CHECK_THROWS_AS(ConfigureTorchRuntime("tpu", 1), Error);
}

}  // namespace
}  // namespace perpetua
