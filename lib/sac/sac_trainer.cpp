#include "sac/sac_trainer.h"

#include <memory>

#include "sac/sac_learner.h"
#include "train/training_run.h"
#include "vice/vice_learner.h"

namespace perpetua {

ExitCode RunTrainSac(const SacTrainConfig& config, const std::string& effective_config_yaml,
                     const ReplayDataFactory& data_factory) {
  TrainingRun run(config, effective_config_yaml, data_factory, WithRewards(config.reward, std::make_unique<SacLearner>(config)));
  return RunTraining(run);
}

void CheckTrainSac(const SacTrainConfig& config) {
  config.Validate(/*inputs=*/false);
  SacLearner(config).Validate();
}

}  // namespace perpetua
