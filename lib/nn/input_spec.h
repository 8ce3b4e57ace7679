// What a network reads from an EnvSpec (the batch spec of a learner): its
// image observations, its vector observations ("proprio") and the action box.
//
//   images:  every [H,W,3] uint8 observation, sorted by key, all of one size
//            (e.g. "goal_image" and "image": a goal-conditioned learner). A
//            TensorBatch stacks them along the channel axis in this order:
//            [B,H,W,3*k] uint8 (k = image_keys.size(); 3 channels for one image).
//   proprio: every 1-D float32 observation, concatenated in key order: [B,P].
//   action:  the box [low, high] (A), and which component, if any, is named
//            "terminate": a cell ends the episode when it is > 0 and then
//            ignores every other component (the grasp cell), so all such
//            actions are one action; learners give them one canonical form.
// Torch-free: tensors are in nn/tensor_batch.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/env.h"

namespace perpetua {

struct InputSpec {
  std::vector<std::string> image_keys;         // [H,W,3] uint8 observations, sorted by key (may be empty)
  int64_t height = 0, width = 0;               // their common size (0 without images)
  std::vector<std::string> proprio_keys;       // 1-D float32 observations, sorted by key
  std::vector<int64_t> proprio_sizes;          // their lengths
  int64_t proprio_dim = 0;                     // sum of proprio_sizes
  std::vector<float> action_low, action_high;  // (A) action box
  int64_t terminate_index = -1;                // the component named "terminate", or -1
  int64_t action_dim() const { return static_cast<int64_t>(action_low.size()); }
  int64_t image_channels() const { return 3 * static_cast<int64_t>(image_keys.size()); }

  // Derives the spec. Throws Error(kBadData) "<source>: ..." for an
  // observation that is neither an [H,W,3] uint8 image nor a float32 vector,
  // images of different sizes, or an empty action space.
  static InputSpec FromEnvSpec(const EnvSpec& spec, const std::string& source);
  // {"image_keys", "height", "width", "proprio_keys", "proprio_sizes",
  // "action_low", "action_high"}, plus "image_key" when there is exactly one
  // image (the form QT-Opt checkpoints of format 1 were written with) and
  // "terminate_index" when there is a terminate component (absent: none).
  nlohmann::json ToJson() const;
  // Reads ToJson's form (or the older one with only "image_key"). Throws
  // Error(kBadData) "<source>: ..." on missing fields or an inconsistent spec.
  static InputSpec FromJson(const nlohmann::json& json, const std::string& source);
  // "" if equal, else one line describing the first difference (this vs other).
  std::string Difference(const InputSpec& other) const;
};

// Throws Error(kBadData) "<source>: checkpoint does not match <expected_name>:
// <difference> (checkpoint vs <expected_name>)" when the specs differ.
void CheckSameInputs(const InputSpec& checkpoint, const InputSpec& expected, const std::string& source,
                     const std::string& expected_name);

}  // namespace perpetua
