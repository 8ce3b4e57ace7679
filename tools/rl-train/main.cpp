// rl-train: off-policy learning from everything ever collected plus the live stream.
#include "common/cli.h"
#include "replay/dataset_replay.h"
#include "qtopt/trainer.h"
#include "sac/sac_trainer.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-train", "Off-policy learning from trajectory shards and the live "
                                  "stream of new shards.");
  perpetua::QTrainConfig q;
  tool.AddVerb("q", "QT-Opt: image Q-function with CEM action maximisation", q, [&] {
    return perpetua::RunTrainQ(q, tool.effective_config(), [&](const std::vector<std::string>& dirs) {
      return perpetua::OpenDatasetReplay(dirs, q.dataset);
    });
  });
  perpetua::SacTrainConfig sac;
  tool.AddVerb("sac", "soft actor-critic (maximum entropy): tanh-Gaussian actor, twin critics", sac, [&] {
    return perpetua::RunTrainSac(sac, tool.effective_config(), [&](const std::vector<std::string>& dirs) {
      return perpetua::OpenDatasetReplay(dirs, sac.dataset);
    });
  });
  return tool.Main(argc, argv);
}
