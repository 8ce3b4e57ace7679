// The rl-eval command line the end-to-end suites start from.
#pragma once

#include <string>
#include <vector>

#include "support/test_support.h"

namespace perpetua::testing {

// rl-eval on the grasp cell with 32x32 images, then `extra`. Small images keep
// the suites fast; the statistics do not depend on them.
inline std::vector<std::string> EvalCommand(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-eval"), "--env", "grasp", "--cell.image-size", "32"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace perpetua::testing
