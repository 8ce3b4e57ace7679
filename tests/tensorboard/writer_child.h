// What tensorboard_writer_child writes at each step, shared with the test
// that checks it: scalars "loss" = step / 4 and "q/mean" = -step; every 5th
// step an image "obs" (ChildImage); every 50th a text "config".
#pragma once

#include <cstdint>
#include <string>

#include "common/array.h"
#include "tensorboard/event_writer.h"

namespace perpetua::tensorboard {

// A [24, 32, 3] uint8 image whose pixels depend on `step`.
inline Array ChildImage(int64_t step) {
  Array image = Array::Zeros(DType::kUint8, {24, 32, 3});
  for (size_t i = 0; i < image.u8.size(); ++i) {
    image.u8[i] = static_cast<uint8_t>((i * 7 + static_cast<size_t>(step) * 13) % 251);
  }
  return image;
}

inline std::string ChildText(int64_t step) { return "```\nstep: " + std::to_string(step) + "\n```"; }

inline void WriteChildStep(EventWriter& writer, int64_t step) {
  writer.AddScalar("loss", step, static_cast<double>(step) / 4);
  writer.AddScalar("q/mean", step, -static_cast<double>(step));
  if (step % 5 == 0) writer.AddImage("obs", step, ChildImage(step));
  if (step % 50 == 0) writer.AddText("config", step, ChildText(step));
}

}  // namespace perpetua::tensorboard
