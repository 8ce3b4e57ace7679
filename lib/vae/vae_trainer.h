// rl-goals fit: the one training run (train/training_run.h) with the VAE
// learner (vae/vae_learner.h). Torch-free header.
#pragma once

#include <string>

#include "common/error.h"
#include "replay/replay_mix.h"
#include "vae/vae_config.h"

namespace perpetua {

// RunTraining (train/training_run.h) over a TrainingRun with a VaeLearner.
ExitCode RunFitVae(const VaeTrainConfig& config, const std::string& effective_config_yaml,
                   const ReplayDataFactory& data_factory);

// The value checks of a run and of its VAE, without the inputs a run needs
// (--print-config): Error(kUsage) naming the first bad setting.
void CheckFitVae(const VaeTrainConfig& config);

}  // namespace perpetua
