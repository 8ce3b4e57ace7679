// The robot's shared secret as every end uses it: the --robot.token given,
// else $PERPETUA_ROBOT_TOKEN, else none (""). Header-only, torch-free.
#pragma once

#include <cstdlib>
#include <string>

namespace perpetua::robot {

inline std::string ResolveRobotToken(const std::string& given) {
  if (!given.empty()) return given;
  const char* from_env = std::getenv("PERPETUA_ROBOT_TOKEN");
  return from_env ? from_env : "";
}

}  // namespace perpetua::robot
