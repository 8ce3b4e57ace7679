// Optional capability of a cell: showing a requested state as a picture.
//
// Goal-conditioned learners (Skew-Fit/RIG) and VICE take goals and success
// examples as images; a cell that implements StateRenderer can render any
// state it knows how to set (the door at a given angle, the puck at a given
// place) exactly as its camera shows states during episodes. Real robots do
// not implement it. Obtain it with AsStateRenderer(env).
#pragma once

#include <nlohmann/json.hpp>

#include "common/array.h"
#include "env/env.h"

namespace perpetua {

class StateRenderer {
 public:
  virtual ~StateRenderer() = default;
  // The observation the policy would see in `state` (cell-specific keys, e.g.
  // {"door_angle": 0.6}; keys left out keep the current value). The episode
  // in progress is unaffected. Error(kUsage) on an unknown key or a value
  // outside the cell's range.
  virtual Observation RenderState(const nlohmann::json& state) = 0;
  // The current scene from the policy's camera at size x size pixels
  // ([size, size, 3] uint8), for pictures and videos; size in 16..1024.
  virtual Array RenderPicture(int size) = 0;
};

// The env's StateRenderer, or nullptr if it has none.
inline StateRenderer* AsStateRenderer(Env& env) { return dynamic_cast<StateRenderer*>(&env); }

}  // namespace perpetua
