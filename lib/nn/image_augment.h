// Image augmentation for learning from pixels. Random shift (DrQ; QT-Opt's
// random crops play the same part): each image is padded by `pad` pixels
// that repeat its border and cropped back to its size at an offset drawn
// uniformly in [-pad, pad] per axis, so a network learns what does not
// depend on a few pixels of camera placement. Policies see unshifted images.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

namespace perpetua {

// Returns a shifted copy of `images` ([B,H,W,C], any dtype, any device), one
// offset per image drawn from `generator` (CPU, so results do not depend on
// the device). pad 0 returns `images` itself. pad must be >= 0.
torch::Tensor RandomShift(const torch::Tensor& images, int pad, at::Generator& generator);

}  // namespace perpetua
