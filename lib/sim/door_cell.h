// The door cell (Skew-Fit's task): a hand with a hook (a vertical rod) and a
// door on a vertical hinge with an L-shaped handle. The rod goes down between
// the handle and the door and pulls the door open or pushes it shut.
//
// Action (3, each in [-1, 1]): hand displacement dx, dy, dz, x 0.03 m per
// step (position-controlled; 0.1 s of simulation per step, 20 substeps).
// Observation: "image" [S, S, 3] uint8 from a fixed camera on the robot's side.
// Episode: max_episode_steps (default 50), truncated, never terminated.
// Goal: a door angle drawn in [0, 1] rad at reset, at least 0.25 rad from the
// start angle (drawn in [0, 0.3]); option "goal_angle" sets it.
// Reward: -|door angle - goal angle| (Skew-Fit replaces it with a latent
// distance). Info: "door_angle" (rad, 0 shut; also as "true_state", env.h), "goal_angle", "success"
// (within 0.08 rad of the goal), "hand" [x, y, z], "hook" [x, y, z] (the
// point between handle and door where the rod can pull, world frame).
// Start (EnvConfig::door_start): "free", the door in [0, 0.3] rad and the hand
// anywhere above the table (random actions almost never catch the handle);
// "hooked", the reduced door: the door in [0.1, 0.3] rad and the rod low
// between handle and door, so that random actions already swing it.
// Reset options: "goal_angle", "door_angle" (start), "hand" [x, y, z].
// Goal pictures: RenderState({"door_angle": a}) renders the door at angle a
// (and "hand": [x, y, z] where the hand should be drawn).
#pragma once

#include "sim/sim_cell.h"

namespace perpetua::sim {

constexpr double kDoorMove = 0.03;         // m per step at |action| = 1
constexpr double kDoorMaxAngle = 1.2;      // the hinge's range is [0, kDoorMaxAngle] rad
constexpr double kDoorHookHeight = 0.05;   // rod bottom height that catches the handle (m)
constexpr double kDoorSuccessAngle = 0.08; // a goal angle is reached within this (rad)
constexpr double kDoorGoalRange = 1.0;     // goal angles are drawn in [0, kDoorGoalRange] rad
constexpr double kDoorHookedHandHeight = 0.02;  // the hand's height with the rod low behind the handle (m)

class DoorCell : public SimCell {
 public:
  explicit DoorCell(const EnvConfig& config);
  Observation RenderState(const nlohmann::json& state) override;

  // World position of the hook point (between handle and door) at door angle `angle`.
  static void HookPoint(double angle, double out[3]);

 protected:
  ResetResult ResetCell(uint64_t seed, const nlohmann::json& options) override;
  StepResult StepCell(const std::vector<float>& action) override;

 private:
  void SetState(double door_angle, const double hand[3]);
  double DoorAngle() const;
  nlohmann::json MakeInfo() const;

  int hinge_ = -1, hand_x_ = -1, hand_y_ = -1, hand_z_ = -1;
  double goal_angle_ = 0.5;
};

}  // namespace perpetua::sim
