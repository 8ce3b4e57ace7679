// rl-train q: the one training run (train/training_run.h) with the QT-Opt
// learner (qtopt/qtopt_learner.h).
//
//   QTrainer trainer(config, effective_config_yaml, data_factory);
//   trainer.Init(); while (trainer.Step()) {} trainer.Finish();
//
// Torch-free header: tools include it without paying for LibTorch.
#pragma once

#include <string>

#include "common/error.h"
#include "qtopt/qtopt_config.h"
#include "replay/replay_mix.h"
#include "train/training_run.h"

namespace perpetua {

class QTrainer : public TrainingRun {
 public:
  QTrainer(const QTrainConfig& config, std::string effective_config_yaml, ReplayDataFactory data_factory);
};

// RunTraining (train/training_run.h) over a QTrainer.
ExitCode RunTrainQ(const QTrainConfig& config, const std::string& effective_config_yaml,
                   const ReplayDataFactory& data_factory);

// The value checks of a run and of its learner, without the inputs a run needs
// (--print-config): Error(kUsage) naming the first bad setting.
void CheckTrainQ(const QTrainConfig& config);

}  // namespace perpetua
