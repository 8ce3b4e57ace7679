// What selects and shapes an environment: EnvConfig (cell name, objects,
// image size, randomisation, remote robot connection), its flags, and its
// env_args JSON. Cells (sim/) and the robot client (robot/) are built from it;
// the factory that knows every cell is env_factory/make_env.h. Every cell
// records in spec().env_args the config that re-creates it exactly, so a
// dataset or checkpoint can rebuild the cell it came from.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "env/env.h"
#include "env/robot_client_config.h"

namespace perpetua {

// Domain-randomisation switches (all off by default). Each is applied at
// Reset from the episode seed, so a seed still gives one exact episode.
struct RandomizeConfig {
  bool lighting = false;  // light direction, intensity and ambient level
  bool colors = false;    // table, bin, floor and robot colours; object colour jitter
  bool textures = false;  // random two-colour patterns (checks, stripes, noise) on textured surfaces
  bool camera = false;    // camera position (+-2 cm) and orientation (+-2 deg) jitter
  bool physics = false;   // object mass (x0.5..2) and friction (x0.7..1.3) scaling
  bool object_colors = false;  // grasp: each object's colour drawn over every hue (held-out hues included)

  void Visit(ConfigVisitor& v) {
    v.Field("lighting", lighting, "randomise light direction, intensity and ambient level");
    v.Field("colors", colors, "randomise table/bin/robot colours and jitter object colours");
    v.Field("textures", textures, "random patterns on the table/bin/mat textures");
    v.Field("camera", camera, "jitter the camera pose (+-2 cm, +-2 deg)");
    v.Field("physics", physics, "scale object mass (x0.5..2) and friction (x0.7..1.3)");
    v.Field("object_colors", object_colors, "grasp: draw each object's colour over every hue, so that colour says nothing of the object");
  }
};

inline constexpr const char* kPushTargetHelp =
    "push: the target's fixed place X,Y in metres (|X|, |Y| <= 0.10; the reduced push task); empty: drawn per "
    "episode";

inline constexpr const char* kGoalsHelp =
    "a goal file (rl-goals sample or heldout), vae:CKPT (goals decoded from the VAE of a checkpoint) or heldout[:N] "
    "(the cell's N held-out goals, default 40, reached when the true state is within the cell's threshold): each "
    "episode's goal, chosen by the episode seed, is the observation goal_image; rl-collect follows the file or "
    "checkpoint as it is replaced, rl-eval reads it once";
inline constexpr const char* kDoorStartHelp =
    "door: free (the hand starts anywhere above the table) or hooked (the rod starts between handle and door: "
    "the reduced door, which random actions already move)";

inline constexpr const char* kProprioPoseHelp =
    "grasp: the proprio observation carries the gripper's x, y and yaw; off: those three read 0, as on an arm "
    "without a calibrated pose (height and closure stay)";
// The grasp cell's second image with EnvConfig::wrist_camera.
inline constexpr const char* kWristImageKey = "wrist_image";
inline constexpr const char* kWristCameraHelp =
    "grasp: a second image, wrist_image [S,S,3], from a camera on the gripper that looks down past the fingers and "
    "turns with them, as on a real arm's wrist";
inline constexpr const char* kEnvNameHelp =
    "cell: grasp | push | door | pendulum, or a robot tcp://HOST:PORT | unix:///PATH";
inline constexpr const char* kObjectsHelp = "grasp object set: train | heldout | comma-separated ids";
inline constexpr const char* kObserveTimeHelp =
    "add the observation time_left [1]: the share of the episode's steps still to come (cells and robots)";
// Everything that selects and shapes a cell.
struct EnvConfig {
  std::string name = "grasp";        // grasp | push | door | pendulum | tcp://HOST:PORT | unix:///PATH
  std::string objects = "train";     // grasp: train | heldout | comma-separated object ids
  int image_size = 64;               // square image side in pixels (image cells)
  int max_objects = 3;               // grasp: each episode drops 1..max_objects objects
  int max_episode_steps = 0;         // 0: the cell's default (grasp 20, push 50, door 50, pendulum 200)
  std::string renderer = "auto";     // auto | egl | osmesa (PERPETUA_GL overrides auto)
  // push: the target's fixed place [x, y] in metres (|x|, |y| <= 0.10), as a
  // real VICE task's goal sits in one place; empty: drawn per episode.
  std::vector<double> push_target;
  std::string door_start = "free";   // door: free | hooked (kDoorStartHelp)
  RandomizeConfig randomize;         // domain randomisation (off by default)
  // Add the observation "time_left" (env/time_left_env.h): the share of the
  // episode's steps still to come, so that the time limit is part of the state.
  bool observe_time = false;
  // grasp: proprio[2..4] are the gripper's x, y and yaw; false: they read 0
  // (an arm without a calibrated pose; the ablation of docs/train.md).
  bool proprio_pose = true;
  // grasp: the observation "wrist_image" from a camera on the gripper (kWristCameraHelp).
  bool wrist_camera = false;
  // A goal file (data/goal_file.h, rl-goals sample): each episode's goal, one of its images, is the
  // observation "goal_image" (env/goal_env.h). Empty: no goals.
  std::string goals;
  RobotClientConfig robot;           // remote robots only: timeouts, watchdog, token (not in env_args)

  void Visit(ConfigVisitor& v) {
    v.Field("name", name, kEnvNameHelp);
    v.Field("objects", objects, kObjectsHelp);
    VisitCell(v);
    v.Field("goals", goals, kGoalsHelp);
    v.Group("robot", robot, "remote robot connection (tcp:// and unix:// names)");
  }
  // The cell settings alone: every field but name, objects, goals and robot
  // (the "cell" flag group, CellFlags).
  void VisitCell(ConfigVisitor& v) {
    v.Field("image_size", image_size, "square camera image side in pixels");
    v.Field("max_objects", max_objects, "grasp: objects dropped per episode, drawn in 1..N");
    v.Field("max_episode_steps", max_episode_steps, "time limit in steps; 0 = cell default");
    v.Field("renderer", renderer, "offscreen GL: auto | egl | osmesa (env PERPETUA_GL for auto)");
    v.Field("push_target", push_target, kPushTargetHelp);
    v.Field("door_start", door_start, kDoorStartHelp);
    v.Group("randomize", randomize, "domain randomisation switches");
    v.Field("observe_time", observe_time, kObserveTimeHelp);
    v.Field("proprio_pose", proprio_pose, kProprioPoseHelp);
    v.Field("wrist_camera", wrist_camera, kWristCameraHelp);
  }
};

// EnvConfig::VisitCell visited as the "cell" group (--cell.image-size,
// --cell.randomize.lighting, ...).
struct CellFlags {
  EnvConfig* env = nullptr;
  void Visit(ConfigVisitor& v) { env->VisitCell(v); }
};

// Visits `env` as the flags --env NAME, --objects SET, --goals FILE, the group "cell" and
// the group "robot" (--robot.step-timeout-s, ...): what rl-collect and
// rl-eval take to pick a cell or a robot.
void VisitEnvFlags(ConfigVisitor& v, EnvConfig& env, CellFlags& cell);

// The env_args JSON saved in datasets: {"env_name": ..., "type": "perpetua",
// "env_kwargs": {every EnvConfig field but the robot.* connection settings,
// which hold the token}} (robomimic's layout).
nlohmann::json EnvConfigToArgs(const EnvConfig& config);
// Inverse of EnvConfigToArgs. Throws Error(kBadData) on a malformed document
// or unknown keys.
EnvConfig EnvConfigFromArgs(const nlohmann::json& env_args);

}  // namespace perpetua
