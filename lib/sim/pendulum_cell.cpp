#include "sim/pendulum_cell.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/rng.h"
#include "sim/sim_cell.h"

namespace perpetua::sim {
namespace {

constexpr double kGravity = 10.0, kMass = 1.0, kLength = 1.0, kDt = 0.05;
constexpr double kMaxSpeed = 8.0, kMaxTorque = 2.0;

double NormalizeAngle(double x) { return std::fmod(std::fmod(x + M_PI, 2 * M_PI) + 2 * M_PI, 2 * M_PI) - M_PI; }

const char* kPendulumMjcf = R"(<mujoco model="pendulum">
  <compiler angle="radian" autolimits="true"/>
  <visual>
    <headlight ambient="0.4 0.4 0.4" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <quality shadowsize="0" offsamples="0"/>
  </visual>
  <worldbody>
    <light directional="true" pos="0 -1 1" dir="0 1 -1" diffuse="0.5 0.5 0.5" castshadow="false"/>
    <geom name="wall" type="box" pos="0 0.05 0" size="1.4 0.01 1.4" rgba="0.62 0.64 0.66 1"/>
    <camera name="front" pos="0 -3.2 0" xyaxes="1 0 0 0 0 1" fovy="45"/>
    <geom name="axle" type="cylinder" pos="0 -0.03 0" quat="0.7071 0.7071 0 0" size="0.06 0.04"
          rgba="0.2 0.2 0.2 1"/>
    <body name="pole">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom name="pole" type="capsule" fromto="0 0 0 0 0 1" size="0.05" rgba="0.8 0.3 0.2 1"/>
    </body>
  </worldbody>
</mujoco>
)";

}  // namespace

PendulumCell::PendulumCell(const EnvConfig& config) : config_(config) {
  spec_.name = "pendulum";
  spec_.observations = {{"state", DType::kFloat32, {3}}};
  spec_.action.low = {-1.0f};
  spec_.action.high = {1.0f};
  spec_.action.names = {"torque"};
  spec_.max_episode_steps = config.max_episode_steps > 0 ? config.max_episode_steps : 200;
  EnvConfig recorded = config;
  recorded.max_episode_steps = spec_.max_episode_steps;
  spec_.env_args = EnvConfigToArgs(recorded);
}

PendulumCell::~PendulumCell() = default;

ResetResult PendulumCell::DoReset(uint64_t seed, const nlohmann::json& options) {
  CheckKeys(options, {"theta", "theta_dot"}, "pendulum reset options");
  Rng rng(seed);
  theta_ = rng.Uniform(-M_PI, M_PI);
  theta_dot_ = rng.Uniform(-1.0, 1.0);
  theta_ = JsonNumber(options, "theta", theta_);
  theta_dot_ = JsonNumber(options, "theta_dot", theta_dot_);
  return {MakeObservation(), MakeInfo()};
}

StepResult PendulumCell::DoStep(const std::vector<float>& action) {
  const double u = std::clamp(kMaxTorque * static_cast<double>(action[0]), -kMaxTorque, kMaxTorque);
  const double angle = NormalizeAngle(theta_);
  StepResult result;
  result.reward = -(angle * angle + 0.1 * theta_dot_ * theta_dot_ + 0.001 * u * u);
  theta_dot_ += (3 * kGravity / (2 * kLength) * std::sin(theta_) + 3.0 / (kMass * kLength * kLength) * u) * kDt;
  theta_dot_ = std::clamp(theta_dot_, -kMaxSpeed, kMaxSpeed);
  theta_ += theta_dot_ * kDt;
  result.observation = MakeObservation();
  result.info = MakeInfo();
  result.truncated = episode_steps() + 1 >= spec_.max_episode_steps;
  return result;
}

Observation PendulumCell::MakeObservation() const {
  Observation observation;
  observation["state"] = Array::FromFloats({static_cast<float>(std::cos(theta_)),
                                            static_cast<float>(std::sin(theta_)),
                                            static_cast<float>(theta_dot_)});
  return observation;
}

nlohmann::json PendulumCell::MakeInfo() const {
  const double angle = NormalizeAngle(theta_);
  return {{"theta", angle},
          {"theta_dot", theta_dot_},
          {"success", std::abs(angle) < 0.1 && std::abs(theta_dot_) < 1.0}};
}

Array PendulumCell::Draw(double theta, int size) {
  if (size < 16 || size > kMaxPictureSize) {
    Fail(ExitCode::kUsage, "picture size " + std::to_string(size) + " is outside 16.." +
                               std::to_string(kMaxPictureSize));
  }
  if (!model_) {
    model_ = CompileMjcf(kPendulumMjcf);
    data_.reset(mj_makeData(model_.get()));
  }
  if (!renderer_ || renderer_->max_size() < size) {
    renderer_.reset();
    renderer_ = std::make_unique<Renderer>(model_.get(), config_.renderer,
                                           std::max({size, config_.image_size, 256}));
  }
  // MuJoCo's hinge about +y turns +z toward +x; Gym's theta turns up toward -x... any
  // consistent mapping works: the picture shows the pole at angle theta from upright.
  data_->qpos[0] = theta;
  mj_forward(model_.get(), data_.get());
  Array image = Array::Zeros(DType::kUint8, {size, size, 3});
  renderer_->Render(model_.get(), data_.get(), 0, size, size, image.u8.data());
  return image;
}

Observation PendulumCell::RenderState(const nlohmann::json& state) {
  CheckKeys(state, {"theta"}, "pendulum state");
  Observation observation;
  observation["image"] = Draw(JsonNumber(state, "theta", theta_), config_.image_size);
  return observation;
}

Array PendulumCell::RenderPicture(int size) { return Draw(theta_, size); }

}  // namespace perpetua::sim
