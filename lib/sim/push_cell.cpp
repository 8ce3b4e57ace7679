#include "sim/push_cell.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"

namespace perpetua::sim {
namespace {

constexpr int kSubsteps = 20;
constexpr double kWorkspace = 0.17;   // |x|, |y| limit of the pusher (m)

std::string PushMjcf() {
  std::ostringstream xml;
  xml << R"(<mujoco model="push">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.005" iterations="10" tolerance="1e-6" solver="Newton"/>
  <visual>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <quality shadowsize="0" offsamples="0"/>
  </visual>
  <asset>
    <texture name="mat" type="2d" builtin="checker" width="64" height="64"
             rgb1="1 1 1" rgb2="0.9 0.9 0.9"/>
    <material name="mat" texture="mat" texrepeat="3 3"/>
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 1" dir="0.2 0.3 -1" diffuse="0.6 0.6 0.6"
           specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="table" type="plane" size="1.5 1.5 0.02" rgba="0.55 0.45 0.35 1" friction="0.5"/>
    <geom name="mat" type="box" pos="0 0 0.0002" size="0.17 0.17 0.0005" rgba="0.5 0.52 0.5 1" material="mat"
          contype="0" conaffinity="0"/>
    <camera name="overhead" pos="0 -0.32 0.52" xyaxes="1 0 0 0 0.85 0.53" fovy="45"/>
    <body name="target" pos="0.05 0.05 0.0008">
      <geom name="target" type="cylinder" size="0.04 0.0005" rgba="0.2 0.75 0.3 1"
            contype="0" conaffinity="0"/>
    </body>
    <body name="puck" pos="0 0 0.03">
      <joint name="puck" type="free" damping="0.0003"/>
      <geom name="puck" type="cylinder" size=")" << kPushPuckRadius
      << R"( 0.03" rgba="0.85 0.25 0.2 1" mass="0.2" friction="0.5" condim="4"/>
    </body>
    <body name="pusher" pos="0 0 0.023">
      <joint name="px" type="slide" axis="1 0 0" range="-0.17 0.17" damping="20" armature="0.1"/>
      <joint name="py" type="slide" axis="0 1 0" range="-0.17 0.17" damping="20" armature="0.1"/>
      <geom name="pusher" type="cylinder" size=")" << kPushPusherRadius
      << R"( 0.02" rgba="0.2 0.3 0.8 1" mass="0.3"/>
      <geom name="arm" type="cylinder" pos="0 0 0.08" size="0.008 0.06" rgba="0.6 0.6 0.65 1"
            contype="0" conaffinity="0" mass="0.05"/>
    </body>
  </worldbody>
  <actuator>
    <position name="ax" joint="px" kp="400" forcerange="-30 30"/>
    <position name="ay" joint="py" kp="400" forcerange="-30 30"/>
  </actuator>
</mujoco>
)";
  return xml.str();
}

// Reads an optional [x, y] within the workspace.
bool ReadPoint(const nlohmann::json& doc, const char* key, double out[2], const std::string& what) {
  if (!doc.contains(key)) return false;
  const nlohmann::json& value = doc.at(key);
  if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number()) {
    Fail(ExitCode::kUsage, what + ": '" + key + "' must be [x, y]");
  }
  for (int i = 0; i < 2; ++i) {
    out[i] = value[i].get<double>();
    if (std::abs(out[i]) > 0.12) {
      Fail(ExitCode::kUsage, what + ": '" + key + "' must lie within 0.12 m of the centre");
    }
  }
  return true;
}

}  // namespace

PushCell::PushCell(const EnvConfig& config) : SimCell(config) {
  ModelPtr model = CompileMjcf(PushMjcf());
  const mjModel* m = model.get();
  puck_joint_ = NameId(m, mjOBJ_JOINT, "puck");
  pusher_x_ = NameId(m, mjOBJ_JOINT, "px");
  pusher_y_ = NameId(m, mjOBJ_JOINT, "py");
  target_body_ = NameId(m, mjOBJ_BODY, "target");
  puck_geom_ = NameId(m, mjOBJ_GEOM, "puck");
  std::vector<int> scenery = {NameId(m, mjOBJ_GEOM, "table"), NameId(m, mjOBJ_GEOM, "mat"),
                              NameId(m, mjOBJ_GEOM, "target"), puck_geom_,
                              NameId(m, mjOBJ_GEOM, "pusher")};
  nominal_puck_mass_ = m->body_mass[m->geom_bodyid[puck_geom_]];
  nominal_puck_friction_ = m->geom_friction[3 * puck_geom_];
  InitModel(std::move(model), "overhead", scenery);
  substeps_per_step_ = kSubsteps;

  spec_.name = "push";
  spec_.observations = {{"image", DType::kUint8, {config.image_size, config.image_size, 3}}};
  spec_.action.low.assign(2, -1.0f);
  spec_.action.high.assign(2, 1.0f);
  spec_.action.names = {"dx", "dy"};
  spec_.max_episode_steps = config.max_episode_steps > 0 ? config.max_episode_steps : 50;
  EnvConfig recorded = config;
  recorded.max_episode_steps = spec_.max_episode_steps;
  spec_.env_args = EnvConfigToArgs(recorded);
}

void PushCell::SetPositions(const double puck[2], const double target[2], const double pusher[2]) {
  mjModel* m = model_.get();
  mjData* d = data_.get();
  const int q = m->jnt_qposadr[puck_joint_];
  d->qpos[q] = puck[0];
  d->qpos[q + 1] = puck[1];
  d->qpos[q + 2] = 0.03;
  d->qpos[q + 3] = 1;
  d->qpos[q + 4] = d->qpos[q + 5] = d->qpos[q + 6] = 0;
  m->body_pos[3 * target_body_] = target[0];
  m->body_pos[3 * target_body_ + 1] = target[1];
  d->qpos[m->jnt_qposadr[pusher_x_]] = pusher[0];
  d->qpos[m->jnt_qposadr[pusher_y_]] = pusher[1];
  d->ctrl[0] = pusher[0];
  d->ctrl[1] = pusher[1];
  mj_forward(m, d);
}

ResetResult PushCell::ResetCell(uint64_t seed, const nlohmann::json& options) {
  CheckKeys(options, {"puck", "target", "pusher"}, "push reset options");
  Rng rng(seed);
  mj_resetData(model_.get(), data_.get());
  RandomizeScene(rng);
  mjModel* m = model_.get();
  const int puck_body = m->geom_bodyid[puck_geom_];
  const bool physics = config_.randomize.physics;
  m->body_mass[puck_body] =
      nominal_puck_mass_ * (physics ? std::exp(rng.Uniform(std::log(0.5), std::log(2.0))) : 1.0);
  m->geom_friction[3 * puck_geom_] = nominal_puck_friction_ * (physics ? rng.Uniform(0.7, 1.3) : 1.0);
  double puck[2], target[2], pusher[2];
  const bool fixed = config_.push_target.size() == 2;
  // Draw all three (so options never shift the stream), then apply options.
  // A fixed target replaces the drawn one (the puck keeps away from it).
  do {
    puck[0] = rng.Uniform(-kPushPlaceRange, kPushPlaceRange);
    puck[1] = rng.Uniform(-kPushPlaceRange, kPushPlaceRange);
    target[0] = rng.Uniform(-kPushPlaceRange, kPushPlaceRange);
    target[1] = rng.Uniform(-kPushPlaceRange, kPushPlaceRange);
    if (fixed) std::copy(config_.push_target.begin(), config_.push_target.end(), target);
  } while (std::hypot(puck[0] - target[0], puck[1] - target[1]) < 0.08);
  do {
    pusher[0] = rng.Uniform(-0.12, 0.12);
    pusher[1] = rng.Uniform(-0.12, 0.12);
  } while (std::hypot(pusher[0] - puck[0], pusher[1] - puck[1]) < 0.06);
  ReadPoint(options, "puck", puck, "push reset options");
  ReadPoint(options, "target", target, "push reset options");
  ReadPoint(options, "pusher", pusher, "push reset options");
  SetPositions(puck, target, pusher);
  Simulate(10);
  ResetResult result;
  result.observation["image"] = RenderImage();
  result.info = MakeInfo();
  return result;
}

StepResult PushCell::StepCell(const std::vector<float>& action) {
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  const double x = d->qpos[m->jnt_qposadr[pusher_x_]], y = d->qpos[m->jnt_qposadr[pusher_y_]];
  d->ctrl[0] = std::clamp(x + kPushMove * action[0], -kWorkspace, kWorkspace);
  d->ctrl[1] = std::clamp(y + kPushMove * action[1], -kWorkspace, kWorkspace);
  Simulate(kSubsteps);
  StepResult result;
  result.observation["image"] = RenderImage();
  result.info = MakeInfo();
  result.reward = result.info.at("success").get<bool>() ? 1.0 : 0.0;
  result.truncated = episode_steps() + 1 >= spec_.max_episode_steps;
  return result;
}

double PushCell::Distance() const {
  const mjtNum* puck = data_->qpos + model_->jnt_qposadr[puck_joint_];
  const mjtNum* target = model_->body_pos + 3 * target_body_;
  return std::hypot(puck[0] - target[0], puck[1] - target[1]);
}

nlohmann::json PushCell::MakeInfo() const {
  const mjtNum* puck = data_->qpos + model_->jnt_qposadr[puck_joint_];
  const mjtNum* target = model_->body_pos + 3 * target_body_;
  const double distance = Distance();
  return {{"success", !unstable() && distance < kPushSuccessRadius},
          {"puck", {puck[0], puck[1]}},
          {"true_state", {{"puck", {puck[0], puck[1]}}}},
          {"target", {target[0], target[1]}},
          {"pusher",
           {data_->qpos[model_->jnt_qposadr[pusher_x_]], data_->qpos[model_->jnt_qposadr[pusher_y_]]}},
          {"distance", distance}};
}

Observation PushCell::RenderState(const nlohmann::json& state) {
  CheckKeys(state, {"puck", "target", "pusher"}, "push state");
  std::vector<mjtNum> qpos(data_->qpos, data_->qpos + model_->nq);
  std::vector<mjtNum> qvel(data_->qvel, data_->qvel + model_->nv);
  const mjtNum* puck_now = data_->qpos + model_->jnt_qposadr[puck_joint_];
  double puck[2] = {puck_now[0], puck_now[1]};
  double target[2] = {model_->body_pos[3 * target_body_], model_->body_pos[3 * target_body_ + 1]};
  double pusher[2] = {data_->qpos[model_->jnt_qposadr[pusher_x_]],
                      data_->qpos[model_->jnt_qposadr[pusher_y_]]};
  const double saved_target[2] = {target[0], target[1]};
  const double saved_ctrl[2] = {data_->ctrl[0], data_->ctrl[1]};
  ReadPoint(state, "puck", puck, "push state");
  ReadPoint(state, "target", target, "push state");
  ReadPoint(state, "pusher", pusher, "push state");
  SetPositions(puck, target, pusher);
  Observation observation;
  observation["image"] = RenderImage();
  model_->body_pos[3 * target_body_] = saved_target[0];
  model_->body_pos[3 * target_body_ + 1] = saved_target[1];
  std::copy(qpos.begin(), qpos.end(), data_->qpos);
  std::copy(qvel.begin(), qvel.end(), data_->qvel);
  data_->ctrl[0] = saved_ctrl[0];
  data_->ctrl[1] = saved_ctrl[1];
  mj_forward(model_.get(), data_.get());
  return observation;
}

}  // namespace perpetua::sim
