#include "sim/heldout_goals.h"

#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "sim/door_cell.h"
#include "sim/push_cell.h"

namespace perpetua::sim {
namespace {

std::string Fixed(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

}  // namespace

std::vector<HeldoutGoal> HeldoutGoals(const std::string& cell, int count) {
  if (count < 1) Fail(ExitCode::kUsage, "the number of held-out goals must be at least 1");
  std::vector<HeldoutGoal> goals;
  if (cell == "door") {
    constexpr double kRegion = 0.25;
    for (int i = 0; i < count; ++i) {
      const double angle = (i + 0.5) / count * kDoorGoalRange;
      const int region = std::min(static_cast<int>(angle / kRegion), static_cast<int>(kDoorGoalRange / kRegion) - 1);
      HeldoutGoal goal;
      goal.reset = {{"goal_angle", angle}};
      // The picture: the door at the angle, the rod low behind its handle, where opening it leaves the hand.
      double hand[3];
      DoorCell::HookPoint(angle, hand);
      goal.state = {{"door_angle", angle}, {"hand", {hand[0], hand[1], kDoorHookedHandHeight}}};
      goal.region = Fixed(region * kRegion, 2) + "-" + Fixed((region + 1) * kRegion, 2) + " rad";
      goals.push_back(goal);
    }
    return goals;
  }
  if (cell == "push") {
    int k = 1;
    while (k * k < count) ++k;
    for (int i = 0; i < count; ++i) {
      const double x = ((i % k) + 0.5) / k * 2 * kPushPlaceRange - kPushPlaceRange;
      const double y = ((i / k) + 0.5) / k * 2 * kPushPlaceRange - kPushPlaceRange;
      const nlohmann::json at = nlohmann::json::array({x, y});
      HeldoutGoal goal;
      goal.reset = {{"target", at}};
      goal.state = {{"puck", at}, {"target", at}};
      goal.region = std::string("x") + (x < 0 ? "-" : "+") + "y" + (y < 0 ? "-" : "+");
      goals.push_back(goal);
    }
    return goals;
  }
  Fail(ExitCode::kUsage, "cell '" + cell + "' has no held-out goals (door and push have)");
}

std::string GoalThreshold(const std::string& cell) {
  if (cell == "door") return Fixed(kDoorSuccessAngle, 2) + " rad of the hinge angle";
  if (cell == "push") return Fixed(kPushSuccessRadius, 2) + " m of the puck's centre";
  return "";
}

}  // namespace perpetua::sim
