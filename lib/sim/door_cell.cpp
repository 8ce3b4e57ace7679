#include "sim/door_cell.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace perpetua::sim {
namespace {

constexpr int kSubsteps = 20;
constexpr double kHingeX = -0.12, kHingeY = 0.10;  // hinge axis position (m)
constexpr double kHookLocalX = 0.17, kHookLocalY = -0.026;  // hook point in the door frame
constexpr double kHandLow[3] = {-0.15, -0.25, 0.02}, kHandHigh[3] = {0.20, 0.06, 0.25};

const char* kDoorMjcf = R"(<mujoco model="door">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.005" iterations="10" tolerance="1e-6" solver="Newton"/>
  <visual>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <quality shadowsize="0" offsamples="0"/>
  </visual>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 1" dir="0.2 0.4 -1" diffuse="0.6 0.6 0.6"
           specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="table" type="plane" size="1.5 1.5 0.02" rgba="0.55 0.45 0.35 1"/>
    <!-- The post is scenery: colliding with the panel's near edge, it stopped the door at 1.08 rad,
         short of the hinge's range (stop 50). -->
    <geom name="post" type="box" pos="-0.135 0.10 0.09" size="0.012 0.012 0.09" rgba="0.35 0.3 0.28 1"
          contype="0" conaffinity="0"/>
    <geom name="frame" type="box" pos="0.2 0.10 0.09" size="0.012 0.012 0.09" rgba="0.35 0.3 0.28 1"/>
    <geom name="lintel" type="box" pos="0.035 0.10 0.19" size="0.18 0.012 0.01" rgba="0.35 0.3 0.28 1"/>
    <camera name="front" pos="0.04 -0.45 0.30" xyaxes="1 0 0 0 0.47 0.882" fovy="50"/>
    <body name="door" pos="-0.12 0.10 0">
      <joint name="hinge" type="hinge" axis="0 0 -1" range="0 1.2" damping="0.4" frictionloss="0.02"
             armature="0.01"/>
      <geom name="panel" type="box" pos="0.15 0 0.09" size="0.145 0.008 0.085" rgba="0.3 0.45 0.7 1"
            mass="0.5"/>
      <geom name="standoff" type="box" pos="0.17 -0.03 0.03" size="0.008 0.022 0.005"
            rgba="0.85 0.7 0.2 1" mass="0.02"/>
      <geom name="handle" type="box" pos="0.17 -0.05 0.075" size="0.008 0.006 0.045"
            rgba="0.85 0.7 0.2 1" mass="0.02"/>
    </body>
    <body name="hand" pos="0 0 0">
      <joint name="hx" type="slide" axis="1 0 0" range="-0.15 0.20" damping="20" armature="0.1"/>
      <joint name="hy" type="slide" axis="0 1 0" range="-0.25 0.06" damping="20" armature="0.1"/>
      <joint name="hz" type="slide" axis="0 0 1" range="0.02 0.25" damping="20" armature="0.1"/>
      <geom name="rod" type="capsule" fromto="0 0 0.008 0 0 0.11" size="0.008" rgba="0.2 0.2 0.25 1"
            mass="0.1"/>
      <geom name="wrist" type="cylinder" pos="0 0 0.13" size="0.02 0.02" rgba="0.6 0.6 0.65 1"
            mass="0.1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <position name="ax" joint="hx" kp="400" forcerange="-30 30"/>
    <position name="ay" joint="hy" kp="400" forcerange="-30 30"/>
    <position name="az" joint="hz" kp="400" forcerange="-30 30"/>
  </actuator>
</mujoco>
)";

bool ReadVector(const nlohmann::json& doc, const char* key, size_t n, double* out,
                const std::string& what) {
  if (!doc.contains(key)) return false;
  const nlohmann::json& value = doc.at(key);
  if (!value.is_array() || value.size() != n) {
    Fail(ExitCode::kUsage, what + ": '" + key + "' must be an array of " + std::to_string(n) +
                               " numbers");
  }
  for (size_t i = 0; i < n; ++i) {
    if (!value[i].is_number()) Fail(ExitCode::kUsage, what + ": '" + key + "' must hold numbers");
    out[i] = value[i].get<double>();
  }
  return true;
}

double CheckedAngle(const nlohmann::json& doc, const char* key, double fallback,
                    const std::string& what) {
  const double angle = JsonNumber(doc, key, fallback);
  if (angle < 0 || angle > kDoorMaxAngle) {
    Fail(ExitCode::kUsage, what + ": '" + key + "' must be in [0, 1.2] rad");
  }
  return angle;
}

}  // namespace

void DoorCell::HookPoint(double angle, double out[3]) {
  // The door frame turns by -angle about z (the hinge axis is -z).
  const double c = std::cos(angle), s = std::sin(angle);
  out[0] = kHingeX + c * kHookLocalX + s * kHookLocalY;
  out[1] = kHingeY - s * kHookLocalX + c * kHookLocalY;
  out[2] = kDoorHookHeight;
}

DoorCell::DoorCell(const EnvConfig& config) : SimCell(config) {
  ModelPtr model = CompileMjcf(kDoorMjcf);
  const mjModel* m = model.get();
  hinge_ = NameId(m, mjOBJ_JOINT, "hinge");
  hand_x_ = NameId(m, mjOBJ_JOINT, "hx");
  hand_y_ = NameId(m, mjOBJ_JOINT, "hy");
  hand_z_ = NameId(m, mjOBJ_JOINT, "hz");
  std::vector<int> scenery = {NameId(m, mjOBJ_GEOM, "table"), NameId(m, mjOBJ_GEOM, "panel"),
                              NameId(m, mjOBJ_GEOM, "handle"), NameId(m, mjOBJ_GEOM, "post"),
                              NameId(m, mjOBJ_GEOM, "frame"), NameId(m, mjOBJ_GEOM, "lintel")};
  InitModel(std::move(model), "front", scenery);
  substeps_per_step_ = kSubsteps;
  spec_.name = "door";
  spec_.observations = {{"image", DType::kUint8, {config.image_size, config.image_size, 3}}};
  spec_.action.low.assign(3, -1.0f);
  spec_.action.high.assign(3, 1.0f);
  spec_.action.names = {"dx", "dy", "dz"};
  spec_.max_episode_steps = config.max_episode_steps > 0 ? config.max_episode_steps : 50;
  EnvConfig recorded = config;
  recorded.max_episode_steps = spec_.max_episode_steps;
  spec_.env_args = EnvConfigToArgs(recorded);
}

void DoorCell::SetState(double door_angle, const double hand[3]) {
  mjData* d = data_.get();
  const mjModel* m = model_.get();
  d->qpos[m->jnt_qposadr[hinge_]] = door_angle;
  const int joints[3] = {hand_x_, hand_y_, hand_z_};
  for (int i = 0; i < 3; ++i) {
    const double value = std::clamp(hand[i], kHandLow[i], kHandHigh[i]);
    d->qpos[m->jnt_qposadr[joints[i]]] = value;
    d->ctrl[i] = value;
  }
  mj_forward(model_.get(), d);
}

ResetResult DoorCell::ResetCell(uint64_t seed, const nlohmann::json& options) {
  CheckKeys(options, {"goal_angle", "door_angle", "hand"}, "door reset options");
  Rng rng(seed);
  mj_resetData(model_.get(), data_.get());
  RandomizeScene(rng);
  if (config_.randomize.physics) {
    model_->dof_damping[model_->jnt_dofadr[hinge_]] = 0.4 * rng.Uniform(0.5, 2.0);
  }
  const bool hooked = config_.door_start == "hooked";
  // Hooked: the door a little open (at 0 the gap behind the handle is out of the hand's reach) and the rod
  // low between handle and door, where pulling opens the door and pushing shuts it.
  const double start = hooked ? rng.Uniform(0.1, 0.3) : rng.Uniform(0.0, 0.3);
  double hand[3] = {rng.Uniform(-0.1, 0.15), rng.Uniform(-0.22, -0.12), rng.Uniform(0.12, 0.22)};
  if (hooked) {
    HookPoint(start, hand);
    hand[2] = kDoorHookedHandHeight;
  }
  // The goal is at least 0.25 rad from the start, so an episode that leaves
  // the door alone does not succeed.
  double goal = rng.Uniform(0.0, kDoorGoalRange);
  while (std::abs(goal - start) < 0.25) goal = rng.Uniform(0.0, kDoorGoalRange);
  goal_angle_ = CheckedAngle(options, "goal_angle", goal, "door reset options");
  const double door = CheckedAngle(options, "door_angle", start, "door reset options");
  ReadVector(options, "hand", 3, hand, "door reset options");
  SetState(door, hand);
  ResetResult result;
  result.observation["image"] = RenderImage();
  result.info = MakeInfo();
  return result;
}

StepResult DoorCell::StepCell(const std::vector<float>& action) {
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  const int joints[3] = {hand_x_, hand_y_, hand_z_};
  for (int i = 0; i < 3; ++i) {
    const double now = d->qpos[m->jnt_qposadr[joints[i]]];
    d->ctrl[i] = std::clamp(now + kDoorMove * action[i], kHandLow[i], kHandHigh[i]);
  }
  Simulate(kSubsteps);
  StepResult result;
  result.observation["image"] = RenderImage();
  result.info = MakeInfo();
  result.reward = -std::abs(DoorAngle() - goal_angle_);
  result.truncated = episode_steps() + 1 >= spec_.max_episode_steps;
  return result;
}

double DoorCell::DoorAngle() const { return data_->qpos[model_->jnt_qposadr[hinge_]]; }

nlohmann::json DoorCell::MakeInfo() const {
  const mjModel* m = model_.get();
  const double angle = DoorAngle();
  double hook[3];
  HookPoint(angle, hook);
  return {{"door_angle", angle},
          {"true_state", {{"door_angle", angle}}},
          {"goal_angle", goal_angle_},
          {"success", std::abs(angle - goal_angle_) < kDoorSuccessAngle},
          {"hand",
           {data_->qpos[m->jnt_qposadr[hand_x_]], data_->qpos[m->jnt_qposadr[hand_y_]],
            data_->qpos[m->jnt_qposadr[hand_z_]]}},
          {"hook", {hook[0], hook[1], hook[2]}}};
}

Observation DoorCell::RenderState(const nlohmann::json& state) {
  CheckKeys(state, {"door_angle", "hand"}, "door state");
  std::vector<mjtNum> qpos(data_->qpos, data_->qpos + model_->nq);
  std::vector<mjtNum> qvel(data_->qvel, data_->qvel + model_->nv);
  std::vector<mjtNum> ctrl(data_->ctrl, data_->ctrl + model_->nu);
  const mjModel* m = model_.get();
  double hand[3] = {qpos[m->jnt_qposadr[hand_x_]], qpos[m->jnt_qposadr[hand_y_]],
                    qpos[m->jnt_qposadr[hand_z_]]};
  ReadVector(state, "hand", 3, hand, "door state");
  SetState(CheckedAngle(state, "door_angle", DoorAngle(), "door state"), hand);
  Observation observation;
  observation["image"] = RenderImage();
  std::copy(qpos.begin(), qpos.end(), data_->qpos);
  std::copy(qvel.begin(), qvel.end(), data_->qvel);
  std::copy(ctrl.begin(), ctrl.end(), data_->ctrl);
  mj_forward(model_.get(), data_.get());
  return observation;
}

}  // namespace perpetua::sim
