// Held-out goals of the simulated cells, spread over each cell's goal range,
// for judging goal reaching on the true state (rl-goals heldout, issue 16).
//
// Each goal is what the cell is reset with so that reaching it is the cell's
// own success, with the cell's own threshold (door: the hinge angle within
// kDoorSuccessAngle of the goal; push: the puck's centre within
// kPushSuccessRadius of the target), the state its picture is rendered in (StateRenderer), and
// the region of the range it lies in (rl-eval reports success per region).
//   door: angles (i + 1/2) / N x 1 rad (the range the cell draws its goals
//         from), regions of 0.25 rad: "0.00-0.25 rad", ..., "0.75-1.00 rad";
//         pictured with the rod low behind the handle, where opening the
//         door to that angle leaves the hand;
//   push: the first N points of a k x k grid over |x|, |y| <= 0.1 m (k the
//         smallest with k^2 >= N), regions the table's quadrants
//         "x-y-", "x+y-", "x-y+", "x+y+".
// Torch-free.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace perpetua::sim {

struct HeldoutGoal {
  nlohmann::json reset;   // the cell's reset options ({"goal_angle": a}, {"target": [x, y]})
  nlohmann::json state;   // the state its picture shows (StateRenderer::RenderState)
  std::string region;     // its part of the goal range
};

// `count` (>= 1) goals of cell `cell` ("door", "push"). Error(kUsage) for a
// cell without held-out goals (grasp and pendulum have no goal images to reach).
std::vector<HeldoutGoal> HeldoutGoals(const std::string& cell, int count);

// The distance within which the cell counts a goal reached, with its unit ("0.08 rad").
std::string GoalThreshold(const std::string& cell);

}  // namespace perpetua::sim
