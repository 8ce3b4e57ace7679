#include "qtopt/trainer.h"

#include "qtopt/qtopt_learner.h"

namespace perpetua {

QTrainer::QTrainer(const QTrainConfig& config, std::string effective_config_yaml, ReplayDataFactory data_factory)
    : TrainingRun(config, std::move(effective_config_yaml), std::move(data_factory),
                  std::make_unique<QtOptLearner>(config)) {}

ExitCode RunTrainQ(const QTrainConfig& config, const std::string& effective_config_yaml,
                   const ReplayDataFactory& data_factory) {
  QTrainer trainer(config, effective_config_yaml, data_factory);
  return RunTraining(trainer);
}

void CheckTrainQ(const QTrainConfig& config) {
  config.Validate(/*inputs=*/false);
  QtOptLearner(config).Validate();
}

}  // namespace perpetua
