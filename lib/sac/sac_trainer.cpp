#include "sac/sac_trainer.h"

#include <memory>

#include "sac/sac_learner.h"
#include "skewfit/goal_learner.h"
#include "train/training_run.h"
#include "vice/vice_learner.h"

namespace perpetua {
namespace {

// SAC, reaching latent goals with --goals, with VICE's rewards with --reward vice.
std::unique_ptr<Learner> MakeLearner(const SacTrainConfig& config) {
  if (config.goals.enabled() && config.reward.reward != "env") {
    Fail(ExitCode::kUsage, "--goals sets the rewards (minus the latent distance to the goal): not with --reward " +
                               config.reward.reward);
  }
  if (config.sac.n_step > 1 && (config.goals.enabled() || config.reward.reward != "env")) {
    Fail(ExitCode::kUsage, "--sac.n-step sums the data's own rewards: not with --goals or --reward vice");
  }
  return WithRewards(config.reward,
                     WithGoals(config.goals, config.batch_size, std::make_unique<SacLearner>(config)));
}

}  // namespace

ExitCode RunTrainSac(const SacTrainConfig& config, const std::string& effective_config_yaml,
                     const ReplayDataFactory& data_factory) {
  TrainingRun run(config, effective_config_yaml, data_factory, MakeLearner(config));
  return RunTraining(run);
}

void CheckTrainSac(const SacTrainConfig& config) {
  config.Validate(/*inputs=*/false);
  MakeLearner(config)->Validate();
}

}  // namespace perpetua
