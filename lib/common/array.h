// A small typed n-dimensional array: the currency between environments,
// datasets and policies, without LibTorch. Row-major; images are HWC uint8.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace perpetua {

enum class DType : uint8_t { kUint8, kFloat32 };

// "uint8" / "float32".
const char* DTypeName(DType dtype);
// Bytes per element.
size_t DTypeSize(DType dtype);

struct Array {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // e.g. {64, 64, 3} for an image, {2} for a vector
  std::vector<uint8_t> u8;     // the elements when dtype == kUint8
  std::vector<float> f32;      // the elements when dtype == kFloat32

  // Number of elements implied by shape (1 for a scalar shape {}).
  int64_t NumElements() const;
  // Pointer to the raw bytes of whichever buffer is active.
  const void* data() const;
  void* data();
  // True if the active buffer's size matches shape.
  bool Consistent() const;

  static Array Zeros(DType dtype, std::vector<int64_t> shape);
  static Array FromFloats(std::vector<float> values);  // shape {values.size()}
};

// One observation: named arrays ("image" [H,W,3] uint8, "proprio" [k] float32).
using Observation = std::map<std::string, Array>;

// "[64, 64, 3]"
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace perpetua
