// Spatial softmax (Levine, Finn et al. 2016, "End-to-End Training of Deep
// Visuomotor Policies"; robomimic's image encoders): a feature map becomes
// keypoints, the expected image position of each channel's feature, so a
// network reads where things are as coordinates it can compare with the
// gripper's, to a fraction of a map cell. Used by QT-Opt's keypoint layout
// (qtopt/q_network.h) and SAC's keypoint encoder (sac/sac_networks.h).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

namespace perpetua {

// features [B,K,h,w], log_temperature [1] -> keypoints [B,2K]: for each
// channel, softmax(features / exp(log_temperature)) over its h x w cells, and
// the expected column then row of that distribution on a grid from -1 (left,
// top) to 1 (right, bottom); the K x values come first, then the K y values.
torch::Tensor SpatialSoftmax(const torch::Tensor& features, const torch::Tensor& log_temperature);

}  // namespace perpetua
