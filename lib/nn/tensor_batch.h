// Minibatches and single observations as tensors, checked against an
// InputSpec (nn/input_spec.h). Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/array.h"
#include "data/transition_batch.h"
#include "nn/input_spec.h"

namespace perpetua {

// A minibatch as tensors on one device.
struct TensorBatch {
  torch::Tensor image;         // [B,H,W,3k] uint8 (s): spec.image_keys stacked on channels (undefined: no images)
  torch::Tensor proprio;       // [B,P] float32 (P may be 0)
  torch::Tensor action;        // [B,A] float32
  torch::Tensor reward;        // [B] float32
  torch::Tensor terminated;    // [B] float32, 1 = do not bootstrap
  torch::Tensor next_image;    // [B,H,W,3k] uint8 (s')
  torch::Tensor next_proprio;  // [B,P] float32
  torch::Tensor return_to_go;  // [B] float32, TransitionBatch::returns_to_go (undefined when it is empty)
  torch::Tensor steps;         // [B] float32, TransitionBatch::steps: n-step rows (undefined: one step each)
  int64_t size() const { return action.size(0); }
};

// Checks `batch` against `spec` and converts it. Throws Error(kBadData)
// "<source>: ..." naming the key and both shapes on any mismatch, and on
// non-finite actions, rewards or vector observations.
TensorBatch ToTensorBatch(const TransitionBatch& batch, const InputSpec& spec, const torch::Device& device,
                          const std::string& source);

// One state's inputs from an Observation (policy path): image [1,H,W,3k]
// (undefined without images), proprio [1,P]. Throws Error(kBadData) on a
// missing key or wrong shape.
void ObservationToTensors(const Observation& observation, const InputSpec& spec, const torch::Device& device,
                          torch::Tensor* image, torch::Tensor* proprio);

}  // namespace perpetua
