// The scripted push: go around the puck to the point behind it (seen from
// the target), then push it along the line to the target.
#include <algorithm>
#include <cmath>

#include "common/rng.h"
#include "policy/scripts.h"
#include "sim/push_cell.h"

namespace perpetua::scripts {
namespace {

constexpr const char* kName = "scripted:push";

std::vector<double> Point(const nlohmann::json& info, const char* key) {
  const nlohmann::json& value = InfoField(info, key, kName);
  return value.get<std::vector<double>>();
}

class PushScript : public Script {
 public:
  PushScript(double noise, uint64_t seed) : Script(kName, noise, seed, /*stream=*/0x905b) {}

  std::vector<float> Act(const Observation&, const nlohmann::json& info) override {
    const std::vector<double> puck = Point(info, "puck"), target = Point(info, "target"),
                              pusher = Point(info, "pusher");
    double ux = target[0] - puck[0], uy = target[1] - puck[1];
    const double distance = std::hypot(ux, uy);
    double goal[2];
    if (distance < 0.01) {
      // On target: back off so the puck stays put.
      goal[0] = pusher[0];
      goal[1] = pusher[1];
    } else {
      ux /= distance;
      uy /= distance;
      const double contact = sim::kPushPuckRadius + sim::kPushPusherRadius;
      const double behind[2] = {puck[0] - ux * (contact + 0.01), puck[1] - uy * (contact + 0.01)};
      // Pusher position relative to the puck, along and across the push line.
      const double rx = pusher[0] - puck[0], ry = pusher[1] - puck[1];
      const double along = rx * ux + ry * uy, across = -rx * uy + ry * ux;
      const double side = across >= 0 ? 1.0 : -1.0;
      const double clearance = contact + 0.025;
      if (along > -(contact - 0.005)) {
        // Beside or in front of the puck.
        if (std::abs(across) < contact + 0.01) {
          // Sidestep first, keeping the distance along the line.
          goal[0] = puck[0] + ux * along - uy * side * clearance;
          goal[1] = puck[1] + uy * along + ux * side * clearance;
        } else {
          // Then around it to a point beside and behind.
          goal[0] = puck[0] - uy * side * clearance - ux * (contact + 0.015);
          goal[1] = puck[1] + ux * side * clearance - uy * (contact + 0.015);
        }
      } else if (std::abs(across) < 0.012) {
        // Lined up behind the puck: push through it toward the target,
        // steering back onto the line.
        const double push = std::min(distance, 0.03) + 0.005;
        goal[0] = pusher[0] + ux * push + uy * across * 0.5;
        goal[1] = pusher[1] + uy * push - ux * across * 0.5;
      } else {
        goal[0] = behind[0];
        goal[1] = behind[1];
      }
    }
    return MoveToward(goal, pusher.data(), 2, sim::kPushMove);
  }
};

}  // namespace

std::unique_ptr<Policy> MakePushScript(const EnvSpec&, double noise, uint64_t seed) {
  return std::make_unique<PushScript>(noise, seed);
}

}  // namespace perpetua::scripts
