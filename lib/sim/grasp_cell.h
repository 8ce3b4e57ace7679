// The grasp cell (QT-Opt's task): a bin on a table with 1..N procedural
// objects dropped at random poses, and a parallel-jaw gripper moved in
// Cartesian space by position-controlled joints. Real contact physics with
// friction: objects are only ever held by finger contacts.
//
// Action (6, each in [-1, 1]):
//   0 dx, 1 dy     gripper displacement, x 0.04 m per step (table frame)
//   2 dz           vertical displacement, x 0.05 m per step
//   3 dyaw         rotation about vertical, x pi/8 per step
//   4 gripper      > 0 closes the fingers, <= 0 opens them
//   5 terminate    > 0 ends the episode: the gripper closes and lifts
// Each step moves the position targets relative to the measured pose
// (clamped to the workspace) and simulates 0.1 s (25 substeps of 4 ms).
//
// Observation: "image" [S, S, 3] uint8 from a fixed over-the-shoulder camera;
// "proprio" [5] float32: fingertip height above the table (m), gripper
// closure (0 open .. 1 fully closed, measured), gripper x and y (m, table
// frame, centre of the bin at 0) and yaw (rad, 0 = fingers closing along y);
// x, y and yaw read 0 when EnvConfig::proprio_pose is off. With
// EnvConfig::wrist_camera, also "wrist_image" [S, S, 3] uint8 from a camera
// on the gripper, behind the palm and tilted toward the fingers, that moves
// and turns with it (image up: the gripper's +x; the fingers close
// left-right).
//
// Episode: at most max_episode_steps (default 20). The terminate action runs
// the closing-and-lifting routine; the episode then ends (terminated) and
// succeeds if an object's centre is held above 0.10 m. Reward: 1 on success,
// otherwise -0.02 per step. Running out of steps truncates with no lift.
// A failed attempt says why in its last info's "failure": "closed-above"
// (the fingers closed on nothing with the fingertips above the top of the
// object nearest in x, y), "closed-beside" (on nothing, lower than that top:
// beside it), or "slipped" (an object touched a finger as they closed, none
// was above 0.10 m after the lift).
//
// Info (ground truth, every step): "success" (bool), "object_ids" [k],
// "objects" [{id, family, pos [x,y,z], grasp [x, y, z, yaw, width],
// width_across, top}] where grasp is a privileged grasp of the object's first
// part (centre, gripper yaw in [-pi/2, pi/2), narrowest width across the
// fingers), width_across that part's width across the fingers at the
// gripper's current yaw and top its highest point (m), "gripper"
// {pos [x,y,z] fingertip centre, yaw, opening (m)}.
//
// Reset options: {"object_ids": [..]} places exactly those objects.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/object_set.h"
#include "sim/sim_cell.h"

namespace perpetua::sim {

// Action scales: the displacement an action component of 1 asks for.
constexpr double kGraspMoveXY = 0.04;        // m per step
constexpr double kGraspMoveZ = 0.05;         // m per step
constexpr double kGraspMoveYaw = M_PI / 8;   // rad per step

class GraspCell : public SimCell {
 public:
  // Error(kUsage) on bad settings; Error(kEnvFailure) if rendering fails.
  explicit GraspCell(const EnvConfig& config);

  // State keys: "object_ids" (re-places those objects as a reset would with
  // seed "seed", default 0), "gripper" [x, y, z, yaw]. Restores the episode.
  Observation RenderState(const nlohmann::json& state) override;

 protected:
  ResetResult ResetCell(uint64_t seed, const nlohmann::json& options) override;
  StepResult StepCell(const std::vector<float>& action) override;

 private:
  void PlaceObjects(const std::vector<int64_t>& ids, Rng& rng);
  void SetSlot(int slot, const ObjectParams* object, double mass_scale, double friction_scale);
  void HoldTargets(double x, double y, double z, double yaw, bool closed);
  double FingertipHeight() const;
  double Closure() const;
  bool ObjectLifted() const;
  // After the attempt's close: "" when a finger touches an object, otherwise
  // "closed-above" or "closed-beside" (the header's failure reasons).
  std::string EmptyCloseFailure() const;
  Observation MakeObservation();
  nlohmann::json MakeInfo(bool success) const;

  std::vector<int64_t> object_set_;     // ids this cell draws from
  std::vector<int64_t> active_ids_;     // objects in the current episode, slot order
  std::vector<int> active_families_;
  // Model indices.
  int gripper_body_ = -1;
  int joint_x_ = -1, joint_y_ = -1, joint_z_ = -1, joint_yaw_ = -1, finger_l_ = -1, finger_r_ = -1;
  int wrist_camera_ = -1;  // EnvConfig::wrist_camera: the camera "wrist", else -1
  std::vector<int> slot_bodies_;        // (max_objects)
  std::vector<int> slot_joints_;        // (max_objects) free joints
  std::vector<int> slot_geoms_;         // (max_objects x kMaxObjectParts)
  double gravity_compensation_ = 0.0;   // N on the z slide
  bool closed_ = false;                 // commanded finger state
};

}  // namespace perpetua::sim
