// The push cell (VICE's task): a round pusher moves a cylinder (a "mug") on a
// table toward a target marker (a "coaster"). The learner sees images only.
//
// Action (2, each in [-1, 1]): pusher displacement dx, dy, x 0.03 m per step
// (position-controlled, 0.1 s of simulation per step: 20 substeps of 5 ms).
// Observation: "image" [S, S, 3] uint8 from a fixed camera above the table.
// Episode: max_episode_steps (default 50), never terminated by the task
// (VICE learns from whole episodes); truncated at the limit.
// Reward: 1 while the cylinder's centre is within 0.03 m of the target, else
// 0 (VICE replaces it with its classifier).
// Info: "success" (within 0.03 m), "puck" [x, y] (also as "true_state", env.h), "target" [x, y],
// "pusher" [x, y], "distance" (m).
// EnvConfig::push_target fixes the target's place for every episode (the
// reduced task: the puck is drawn at least 0.08 m from it).
// Reset options: {"puck": [x, y], "target": [x, y], "pusher": [x, y]} fix
// those positions (|x|, |y| <= 0.12) instead of drawing them.
#pragma once

#include "sim/sim_cell.h"

namespace perpetua::sim {

// Action scale and success radius.
constexpr double kPushMove = 0.03;        // m per step at |action| = 1
constexpr double kPushSuccessRadius = 0.03;
constexpr double kPushPuckRadius = 0.03;
constexpr double kPushPusherRadius = 0.015;
constexpr double kPushPlaceRange = 0.10;  // puck and target drawn with |x|, |y| below this

class PushCell : public SimCell {
 public:
  explicit PushCell(const EnvConfig& config);
  // State keys: "puck", "target", "pusher" ([x, y] each). Use it to render
  // goal/success examples (puck on target) for VICE.
  Observation RenderState(const nlohmann::json& state) override;

 protected:
  ResetResult ResetCell(uint64_t seed, const nlohmann::json& options) override;
  StepResult StepCell(const std::vector<float>& action) override;

 private:
  void SetPositions(const double puck[2], const double target[2], const double pusher[2]);
  nlohmann::json MakeInfo() const;
  double Distance() const;

  int puck_joint_ = -1, pusher_x_ = -1, pusher_y_ = -1, target_body_ = -1, puck_geom_ = -1;
  double nominal_puck_mass_ = 0, nominal_puck_friction_ = 0;
};

}  // namespace perpetua::sim
