// What a SAC network reads from a cell or dataset: any number of images (all
// [H,W,3] uint8 of one size, stacked along channels in key order), the float
// vectors concatenated in key order ("state" of a state-only cell, or the
// proprioception beside images), and the action box the actor's tanh output
// is rescaled to. Torch-free.
//
// (The shared input spec in nn/ that issue 13 plans replaces this once it
// exists; the fields are the same.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "env/env.h"

namespace perpetua {

struct SacInputSpec {
  std::vector<std::string> image_keys;    // [H,W,3] uint8 observations, sorted by key (may be empty)
  int64_t height = 0, width = 0;          // their size (0 without images)
  std::vector<std::string> proprio_keys;   // 1-D float32 observations, sorted by key
  std::vector<int64_t> proprio_sizes;      // their lengths
  int64_t proprio_dim = 0;                 // sum of proprio_sizes
  std::vector<float> action_low, action_high;  // (A) the action box
  int64_t action_dim() const { return static_cast<int64_t>(action_low.size()); }
  bool has_images() const { return !image_keys.empty(); }

  // Derives the spec. Throws Error(kBadData) "<source>: ..." when images
  // differ in size, an entry is neither an image nor a float vector, there
  // is no input at all, or the action box is empty or not low < high.
  static SacInputSpec FromEnvSpec(const EnvSpec& spec, const std::string& source);
  nlohmann::json ToJson() const;
  // Throws Error(kBadData) "<source>: malformed SAC input spec" on bad JSON.
  static SacInputSpec FromJson(const nlohmann::json& json, const std::string& source);
  // "" if equal, else one line naming the first difference ("action box ... vs ...").
  std::string Difference(const SacInputSpec& other) const;
};

// Throws Error(kBadData) "<source>: checkpoint does not match <expected_name>:
// <difference> (checkpoint vs <expected_name>)" unless the specs are equal.
void CheckSameInputs(const SacInputSpec& checkpoint, const SacInputSpec& expected, const std::string& source,
                     const std::string& expected_name);

}  // namespace perpetua
