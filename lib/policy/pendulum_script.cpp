// The scripted pendulum: energy pumping to swing up, a PD controller near the
// top. Reads theta and theta_dot from info.
#include <algorithm>
#include <cmath>

#include "common/rng.h"
#include "policy/scripts.h"

namespace perpetua::scripts {
namespace {

constexpr const char* kName = "scripted:pendulum";
// theta'' = kA sin(theta) + kB u (Pendulum-v1: 3g/2l = 15, 3/(m l^2) = 3).
constexpr double kA = 15.0, kB = 3.0, kMaxTorque = 2.0;

class PendulumScript : public Script {
 public:
  PendulumScript(double noise, uint64_t seed) : Script(kName, noise, seed, /*stream=*/0x9e4d) {}
  std::vector<float> Act(const Observation&, const nlohmann::json& info) override {
    const double theta = InfoNumber(info, "theta", kName);
    const double theta_dot = InfoNumber(info, "theta_dot", kName);
    double torque;
    if (std::cos(theta) > 0.95) {
      // PD around upright (|theta| < 0.32 rad, where 2 Nm still beats gravity).
      torque = -(kA * std::sin(theta) + 10.0 * theta + 4.0 * theta_dot) / kB;
    } else {
      // Energy E = theta_dot^2 / 2 + kA cos(theta); upright at rest has E = kA.
      const double energy = 0.5 * theta_dot * theta_dot + kA * std::cos(theta);
      const double pump = (kA - energy) * theta_dot;
      torque = std::clamp(0.5 * pump, -kMaxTorque, kMaxTorque);
      if (std::abs(theta_dot) < 1e-3) torque = kMaxTorque;  // start the swing
    }
    return {static_cast<float>(Noisy(std::clamp(torque / kMaxTorque, -1.0, 1.0)))};
  }
};

}  // namespace

std::unique_ptr<Policy> MakePendulumScript(const EnvSpec&, double noise, uint64_t seed) {
  return std::make_unique<PendulumScript>(noise, seed);
}

}  // namespace perpetua::scripts
