// rl-train sac: the one training run (train/training_run.h) with the SAC
// learner (sac/sac_learner.h). Torch-free header.
#pragma once

#include <string>

#include "common/error.h"
#include "replay/replay_mix.h"
#include "sac/sac_config.h"

namespace perpetua {

// RunTraining (train/training_run.h) over a TrainingRun with a SacLearner.
ExitCode RunTrainSac(const SacTrainConfig& config, const std::string& effective_config_yaml,
                     const ReplayDataFactory& data_factory);

// The value checks of a run and of its learner, without the inputs a run needs
// (--print-config): Error(kUsage) naming the first bad setting.
void CheckTrainSac(const SacTrainConfig& config);

}  // namespace perpetua
