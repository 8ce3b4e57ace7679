#include "env/env.h"

#include <cmath>

#include "common/error.h"

namespace perpetua {

int ClipAction(const ActionSpec& spec, std::vector<float>& action) {
  if (static_cast<int>(action.size()) != spec.dim()) {
    Fail(ExitCode::kUsage, "action has " + std::to_string(action.size()) +
                               " components, the cell expects " + std::to_string(spec.dim()));
  }
  int clipped = 0;
  for (int i = 0; i < spec.dim(); ++i) {
    if (!std::isfinite(action[i])) {
      Fail(ExitCode::kUsage, "action component " + std::to_string(i) +
                                 (spec.names.size() > size_t(i) ? " (" + spec.names[i] + ")" : "") +
                                 " is not finite");
    }
    if (action[i] < spec.low[i]) {
      action[i] = spec.low[i];
      ++clipped;
    } else if (action[i] > spec.high[i]) {
      action[i] = spec.high[i];
      ++clipped;
    }
  }
  return clipped;
}

ResetResult Env::Reset(uint64_t seed, const nlohmann::json& options) {
  episode_steps_ = 0;
  episode_open_ = false;
  holding_ = false;
  ResetResult result = DoReset(seed, options);
  episode_open_ = true;
  return result;
}

StepResult Env::Step(const std::vector<float>& action) {
  PERPETUA_CHECK_MSG(episode_open_, "Step() called without an open episode");
  std::vector<float> checked = action;
  clipped_count_ += ClipAction(spec().action, checked);
  holding_ = false;
  StepResult result = DoStep(checked);
  ++episode_steps_;
  if (result.terminated || result.truncated) episode_open_ = false;
  return result;
}

void Env::Hold() {
  DoHold();
  holding_ = true;
}

}  // namespace perpetua
