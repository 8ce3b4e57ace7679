#include "common/array.h"

#include "common/error.h"

namespace perpetua {

const char* DTypeName(DType dtype) { return dtype == DType::kUint8 ? "uint8" : "float32"; }

size_t DTypeSize(DType dtype) { return dtype == DType::kUint8 ? 1 : 4; }

int64_t Array::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const void* Array::data() const {
  return dtype == DType::kUint8 ? static_cast<const void*>(u8.data())
                                : static_cast<const void*>(f32.data());
}

void* Array::data() {
  return dtype == DType::kUint8 ? static_cast<void*>(u8.data()) : static_cast<void*>(f32.data());
}

bool Array::Consistent() const {
  const size_t n = static_cast<size_t>(NumElements());
  return dtype == DType::kUint8 ? (u8.size() == n && f32.empty()) : (f32.size() == n && u8.empty());
}

Array Array::Zeros(DType dtype, std::vector<int64_t> shape) {
  Array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  if (dtype == DType::kUint8) {
    a.u8.assign(static_cast<size_t>(a.NumElements()), 0);
  } else {
    a.f32.assign(static_cast<size_t>(a.NumElements()), 0.0f);
  }
  return a;
}

Array Array::FromFloats(std::vector<float> values) {
  Array a;
  a.dtype = DType::kFloat32;
  a.shape = {static_cast<int64_t>(values.size())};
  a.f32 = std::move(values);
  return a;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace perpetua
