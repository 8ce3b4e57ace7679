// The scripted door: bring the rod above the hook point, lower it between
// handle and door, then drag the hook point along its circle toward the
// goal angle.
#include <algorithm>
#include <cmath>

#include "common/rng.h"
#include "policy/scripts.h"
#include "sim/door_cell.h"

namespace perpetua::scripts {
namespace {

constexpr const char* kName = "scripted:door";
constexpr double kAbove = 0.16;  // rod bottom height while travelling (m)

class DoorScript : public Script {
 public:
  DoorScript(double noise, uint64_t seed) : Script(kName, noise, seed, /*stream=*/0xd00) {}
  std::vector<float> Act(const Observation&, const nlohmann::json& info) override {
    const double angle = InfoNumber(info, "door_angle", kName);
    const double goal = InfoNumber(info, "goal_angle", kName);
    const std::vector<double> hand = InfoField(info, "hand", kName).get<std::vector<double>>();
    double hook[3];
    sim::DoorCell::HookPoint(angle, hook);
    const double ex = hook[0] - hand[0], ey = hook[1] - hand[1];
    const bool over_hook = std::hypot(ex, ey) < 0.012;
    const bool in_gap = over_hook && hand[2] < kAbove - 0.03;
    double target[3];
    if (in_gap) {
      const double next = angle + std::clamp(goal - angle, -0.12, 0.12);
      sim::DoorCell::HookPoint(next, target);
      // Lean on the handle to open (outward, along the door's -y axis) or on
      // the door to close, taking up the slack of the rod in the gap.
      const double lean = (goal > angle ? 1.0 : -1.0) * 0.01;
      target[0] += lean * -std::sin(next);
      target[1] += lean * -std::cos(next);
    } else if (over_hook) {
      target[0] = hook[0];
      target[1] = hook[1];
      target[2] = sim::kDoorHookHeight;
    } else {
      // Travel high, so the rod never sweeps into the handle or the door.
      target[0] = hook[0];
      target[1] = hook[1];
      target[2] = kAbove;
      if (hand[2] < kAbove - 0.02) {
        target[0] = hand[0];
        target[1] = hand[1];
      }
    }
    return MoveToward(target, hand.data(), 3, sim::kDoorMove);
  }
};

}  // namespace

std::unique_ptr<Policy> MakeDoorScript(const EnvSpec&, double noise, uint64_t seed) {
  return std::make_unique<DoorScript>(noise, seed);
}

}  // namespace perpetua::scripts
