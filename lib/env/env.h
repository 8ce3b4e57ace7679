// The one interface for simulated cells and real robots.
//
// An Env is a robot (or a simulated cell) that a single thread drives
// episode by episode: Reset(seed, options), then Step(action) until the
// result is terminated or truncated. Nothing assumes stepping is
// instantaneous or cannot fail: a robot behind a network (a later issue)
// implements the same interface and throws Error(kEnvFailure) when it stops
// answering.
//
// Observations hold only what the learner may see (images, proprioception).
// Ground truth (success, object ids, poses, door angle, ...) goes in `info`,
// for evaluation and scripted policies only. info "true_state", where a cell
// gives it, is the state goal reaching is judged on (door: "door_angle";
// push: "puck" [x, y]): an object of numbers or number arrays at every reset
// and step, which rollout/ records per observation in the episode's extra
// facts (extra_json "true_state": key -> N+1 values) for evaluation and
// coverage figures; no learner reads it.
//
// Actions: Step() checks every action before the implementation sees it:
// a wrong size or a NaN/Inf is rejected with Error(kUsage); components outside
// [low, high] are clipped and counted (clipped_action_count()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array.h"

namespace perpetua {

// One observation entry a cell produces at every step.
struct ObservationSpec {
  std::string key;              // "image", "proprio"
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;   // per-step shape: {H, W, 3} for images, {k} for vectors
};

// The continuous action space: a box.
struct ActionSpec {
  std::vector<float> low;            // (A) lower bounds
  std::vector<float> high;           // (A) upper bounds
  std::vector<std::string> names;    // (A) "dx", "dy", "dz", "dyaw", "close", "terminate"
  int dim() const { return static_cast<int>(low.size()); }
};

// Everything a learner or dataset needs to know about a cell.
struct EnvSpec {
  std::string name;                          // "grasp", "push", "door", "pendulum", "tcp://..."
  std::vector<ObservationSpec> observations; // in a fixed order
  ActionSpec action;
  int max_episode_steps = 20;                // steps after which an episode is truncated
  double control_hz = 0.0;                   // real robots: control rate; simulation: 0
  nlohmann::json env_args;                   // how to re-create this cell (saved in datasets)
};

// What Reset() returns.
struct ResetResult {
  Observation observation;
  nlohmann::json info;  // ground truth at the start (object ids, ...)
};

// What Step() returns.
struct StepResult {
  Observation observation;  // the observation after the action
  double reward = 0.0;
  bool terminated = false;  // the episode ended by the task (success, terminate action, ...)
  bool truncated = false;   // the episode was cut (time limit, robot interruption)
  nlohmann::json info;      // ground truth: "success" (bool) at least on the last step
};

class Env {
 public:
  virtual ~Env() = default;

  virtual const EnvSpec& spec() const = 0;

  // Starts an episode. Same seed and options, same episode (same frames).
  // `options` are cell-specific (e.g. {"object_ids": [3]}); unknown keys are
  // Error(kUsage). Throws Error(kEnvFailure) if the cell/robot fails.
  ResetResult Reset(uint64_t seed, const nlohmann::json& options = nlohmann::json::object());

  // Applies one action (size spec().action.dim()). See the file comment for
  // the checks. Calling Step before Reset or after the episode ended is a bug.
  StepResult Step(const std::vector<float>& action);

  // Stops the robot's motion and holds its position until the next Step or
  // Reset: the dead-man switch of a robot server (lib/robot/robot_server.h)
  // calls it when no step came within its watchdog time, when a client asks
  // (HOLD) and when a session ends. Callable at any time between calls, in an
  // open episode or not; idempotent; the episode stays open (the next Step
  // resumes it). Throws Error(kEnvFailure) only if the robot cannot hold.
  void Hold();
  // True from Hold() until the next Step or Reset.
  bool holding() const { return holding_; }
  // Components clipped to the bounds since construction.
  int64_t clipped_action_count() const { return clipped_count_; }
  // Steps taken in the current episode.
  int episode_steps() const { return episode_steps_; }

 protected:
  // Implementations: `action` is already finite, of the right size and within bounds.
  virtual ResetResult DoReset(uint64_t seed, const nlohmann::json& options) = 0;
  virtual StepResult DoStep(const std::vector<float>& action) = 0;
  // Holds position (see Hold). Default: nothing, for cells that move only
  // inside DoStep (the simulated cells: their state is frozen between steps,
  // and changing it here would make a served episode depend on when a hold
  // came); a robot that moves on its own between commands overrides it.
  virtual void DoHold() {}

 private:
  int64_t clipped_count_ = 0;
  int episode_steps_ = 0;
  bool episode_open_ = false;
  bool holding_ = false;
};

// Checks and clips `action` against `spec` (the checks Step() applies).
// Returns the number of clipped components. Throws Error(kUsage) on a wrong
// size or a non-finite value.
int ClipAction(const ActionSpec& spec, std::vector<float>& action);

}  // namespace perpetua
