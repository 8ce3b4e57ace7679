#include "nn/image_augment.h"

#include "common/error.h"
#include "nn/row_draws.h"

namespace perpetua {

torch::Tensor RandomShift(const torch::Tensor& images, int pad, at::Generator& generator) {
  PERPETUA_CHECK(pad >= 0 && images.dim() == 4);
  if (pad == 0) return images;
  const int64_t b = images.size(0), h = images.size(1), w = images.size(2), c = images.size(3);
  const auto index = torch::TensorOptions().dtype(torch::kLong).device(images.device());
  const torch::Tensor offsets = RowRandint(-pad, pad + 1, {b, 2}, generator).to(images.device());
  // Row r of the shifted image is row clamp(r + dy) of the original (the
  // clamp repeats the border, as replicate padding would); likewise columns.
  const torch::Tensor dy = offsets.select(1, 0).view({b, 1}), dx = offsets.select(1, 1).view({b, 1});
  const torch::Tensor rows = (torch::arange(h, index).view({1, h}) + dy).clamp(0, h - 1);
  const torch::Tensor cols = (torch::arange(w, index).view({1, w}) + dx).clamp(0, w - 1);
  const torch::Tensor shifted_rows = images.gather(1, rows.view({b, h, 1, 1}).expand({b, h, w, c}));
  return shifted_rows.gather(2, cols.view({b, 1, w, 1}).expand({b, h, w, c}));
}

}  // namespace perpetua
