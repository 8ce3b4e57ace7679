#include "vae/vae_trainer.h"

#include <memory>

#include "train/training_run.h"
#include "vae/vae_learner.h"

namespace perpetua {

ExitCode RunFitVae(const VaeTrainConfig& config, const std::string& effective_config_yaml,
                   const ReplayDataFactory& data_factory) {
  TrainingRun run(config, effective_config_yaml, data_factory, std::make_unique<VaeLearner>(config));
  return RunTraining(run);
}

void CheckFitVae(const VaeTrainConfig& config) {
  config.Validate(/*inputs=*/false);
  VaeLearner(config).Validate();
}

}  // namespace perpetua
