// Writing images as PNG files (pictures for the docs, frames for videos).
#pragma once

#include <string>

#include "common/array.h"

namespace perpetua::sim {

// Writes `image` ([H, W, 3] uint8 RGB) to `path` atomically, enlarged by an
// integer `scale` with nearest-neighbour pixels (1: as is). Error(kUsage) on
// a wrong shape or dtype, Error(kIoError) if the file cannot be written.
void WritePng(const std::string& path, const Array& image, int scale = 1);

}  // namespace perpetua::sim
