// Pendulum with exactly Gymnasium's Pendulum-v1 dynamics and reward, with
// state observations, so that algorithm speed and returns can be compared
// with other RL libraries on identical work.
//
// State: angle theta (0 upright) and angular velocity (rad/s).
//   theta_dot' = clip(theta_dot + (3 g / (2 l) sin theta + 3 / (m l^2) u) dt, -8, 8)
//   theta'     = theta + theta_dot' dt          (g = 10, m = 1, l = 1, dt = 0.05)
// Action (1, in [-1, 1]): torque u = 2 * action (Pendulum-v1's [-2, 2]).
// Observation: "state" [3] float32 = (cos theta, sin theta, theta_dot).
// Reward: -(normalised theta^2 + 0.1 theta_dot^2 + 0.001 u^2), as Pendulum-v1.
// Episode: max_episode_steps (default 200), truncated, never terminated.
// Reset: theta ~ U(-pi, pi), theta_dot ~ U(-1, 1) from the seed (options
// {"theta": t, "theta_dot": w} fix them).
// Info: "theta" (normalised to [-pi, pi)), "theta_dot", "success" (|theta| < 0.1 rad
// and |theta_dot| < 1).
// Pictures: RenderPicture draws the pole with MuJoCo; the GL context is made
// on first use only, so state-only training never opens one.
#pragma once

#include <memory>

#include "env/env.h"
#include "env/env_config.h"
#include "env/state_render.h"
#include "sim/mujoco_util.h"
#include "sim/renderer.h"

namespace perpetua::sim {

class PendulumCell : public Env, public StateRenderer {
 public:
  explicit PendulumCell(const EnvConfig& config);
  ~PendulumCell() override;
  const EnvSpec& spec() const override { return spec_; }

  // State keys: "theta". Returns {"image": [S, S, 3]} of the pole at that angle.
  Observation RenderState(const nlohmann::json& state) override;
  Array RenderPicture(int size) override;

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override;
  StepResult DoStep(const std::vector<float>& action) override;

 private:
  Observation MakeObservation() const;
  nlohmann::json MakeInfo() const;
  Array Draw(double theta, int size);

  EnvConfig config_;
  EnvSpec spec_;
  double theta_ = 0, theta_dot_ = 0;
  // Lazily made for pictures.
  ModelPtr model_;
  DataPtr data_;
  std::unique_ptr<Renderer> renderer_;
};

}  // namespace perpetua::sim
