#include "collect/pace.h"

#include <cmath>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/step_file.h"

namespace perpetua {

void PaceConfig::Validate() const {
  if (run.empty()) return;
  if (!(ratio > 0.0) || !std::isfinite(ratio)) {
    Fail(ExitCode::kUsage, "--pace.ratio must be a number > 0, got " + std::to_string(ratio));
  }
  if (ahead < 0) Fail(ExitCode::kUsage, "--pace.ahead must be >= 0, got " + std::to_string(ahead));
}

std::string PaceConfig::Describe() const {
  return ShortestNumberText(ratio) + " steps per gradient step, " + std::to_string(ahead) + " ahead";
}

TrainerPace::TrainerPace(const PaceConfig& config)
    : config_(config), step_path_(config.run + "/" + kTrainerStepFile) {
  if (const std::optional<int64_t> step = ReadStepFile(step_path_)) first_step_ = *step;
}

bool TrainerPace::MayStart(int64_t collected) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::optional<int64_t> step = ReadStepFile(step_path_);
  if (step && first_step_ < 0) first_step_ = *step;
  const int64_t trained = step ? std::max<int64_t>(0, *step - first_step_) : 0;
  const bool may = static_cast<double>(collected) < static_cast<double>(config_.ahead) + config_.ratio * trained;
  if (!may && !told_) {
    LogInfo("pacing: " + std::to_string(collected) + " steps collected for " + std::to_string(trained) +
            " gradient steps of " + config_.run + " (ratio " + ShortestNumberText(config_.ratio) +
            "); waiting for the trainer from here on");
    told_ = true;
  }
  return may;
}

}  // namespace perpetua
