// A minibatch of transitions as tensors in the layout SAC's networks read,
// and its checked conversion from a TransitionBatch (data/transition_batch.h).
// (Maps onto the shared tensor batch that issue 13 plans in nn/.)
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/array.h"
#include "data/transition_batch.h"
#include "sac/sac_input_spec.h"

namespace perpetua {

struct SacBatch {
  torch::Tensor image;         // [B,H,W,3k] uint8: the spec's image keys stacked on channels (s); undefined without images
  torch::Tensor proprio;       // [B,P] float32: the spec's vector keys concatenated (P may be 0)
  torch::Tensor action;        // [B,A] float32, in the env's action box
  torch::Tensor reward;        // [B] float32
  torch::Tensor terminated;    // [B] float32: 1 = s' ends the task (no bootstrap); truncated steps are 0
  torch::Tensor next_image;    // as image, for s'
  torch::Tensor next_proprio;  // as proprio, for s'
  int64_t size() const { return action.size(0); }
};

// Checks `batch` against `spec` and converts it onto `device`. Throws
// Error(kBadData) "<source>: ..." on an empty batch, a missing key ("... lack
// the key 'image' the network reads"), a wrong dtype or shape (naming both),
// and non-finite actions, rewards or vectors.
SacBatch ToSacBatch(const TransitionBatch& batch, const SacInputSpec& spec, const torch::Device& device,
                    const std::string& source);

// One observation as a batch of one: image [1,H,W,3k] (undefined without
// images) and proprio [1,P]. Throws Error(kBadData) "policy input: ..." like ToSacBatch.
void ObservationToSacInput(const Observation& observation, const SacInputSpec& spec, const torch::Device& device,
                           torch::Tensor* image, torch::Tensor* proprio);

}  // namespace perpetua
