// Helpers shared by the sim test files.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "common/array.h"
#include "common/error.h"
#include "support/expect_error.h"

namespace perpetua::testing {

// FNV-1a over an array's bytes: a compact fingerprint of a frame.
inline uint64_t Fingerprint(const Array& array, uint64_t hash = 1469598103934665603ULL) {
  const auto* bytes = static_cast<const uint8_t*>(array.data());
  const size_t size = static_cast<size_t>(array.NumElements()) * DTypeSize(array.dtype);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ULL;
  return hash;
}

// Per-channel standard deviation summed: 0 for a blank image.
inline double ImageContrast(const Array& image) {
  double total = 0;
  for (int c = 0; c < 3; ++c) {
    double sum = 0, sum_sq = 0;
    const int64_t pixels = image.shape[0] * image.shape[1];
    for (int64_t i = 0; i < pixels; ++i) {
      const double v = image.u8[static_cast<size_t>(3 * i + c)];
      sum += v;
      sum_sq += v * v;
    }
    const double mean = sum / pixels;
    total += std::sqrt(std::max(0.0, sum_sq / pixels - mean * mean));
  }
  return total;
}

}  // namespace perpetua::testing
