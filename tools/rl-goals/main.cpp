// rl-goals: goals the robot invents for itself (Skew-Fit).
#include "common/cli.h"
#include "replay/dataset_replay.h"
#include "vae/coverage_command.h"
#include "vae/goal_sampler.h"
#include "vae/heldout_command.h"
#include "vae/vae_trainer.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-goals", "Fit a density-skewed VAE over what the robot has seen and "
                                  "sample goals to practise (Skew-Fit).");
  perpetua::VaeTrainConfig fit;
  tool.AddVerb("fit",
               "train a beta-VAE on the data's images, drawn with weights p(x)^alpha (Skew-Fit; alpha 0: RIG); "
               "writes VAE checkpoints and reconstructions.png into --out",
               fit, [&] {
                 return perpetua::RunFitVae(fit, tool.effective_config(), [&](const std::vector<std::string>& dirs, const perpetua::ShardSubset& subset) {
                   return perpetua::OpenDatasetReplay(dirs, fit.dataset, subset);
                 });
               }, [&] { perpetua::CheckFitVae(fit); });
  perpetua::SampleGoalsConfig sample;
  tool.AddVerb("sample",
               "draw goals from a fitted VAE (its prior, or real images skewed by p(x)^alpha) into a goal file "
               "(HDF5: images and latents); prints its path",
               sample, [&] {
                 return perpetua::RunSampleGoals(sample, [&](const std::vector<std::string>& dirs, const perpetua::ShardSubset& subset) {
                   return perpetua::OpenDatasetReplay(dirs, sample.dataset, subset);
                 });
               }, [&] { sample.Validate(/*inputs=*/false); });
  perpetua::HeldoutGoalsConfig heldout;
  tool.AddVerb("heldout",
               "held-out goal images of a simulated cell spread over its goal range, into a goal file whose "
               "episodes rl-eval judges on the true state (door: hinge angle, push: puck position); prints its path",
               heldout, [&] { return perpetua::RunHeldoutGoals(heldout); },
               [&] { heldout.Validate(/*inputs=*/false); });
  perpetua::CoverageConfig coverage;
  tool.AddVerb("coverage",
               "how evenly the data's states spread over the cell's range: the entropy of the histogram of the true "
               "state (door_angle, puck) overall and per window of episodes (JSON on stdout; --png a heat map)",
               coverage, [&] { return perpetua::RunCoverage(coverage); },
               [&] { coverage.Validate(/*inputs=*/false); });
  return tool.Main(argc, argv);
}
