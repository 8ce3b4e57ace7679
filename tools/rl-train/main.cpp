// rl-train: off-policy learning from everything ever collected plus the live stream.
#include "common/cli.h"
#include "replay/dataset_replay.h"
#include "qtopt/trainer.h"

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-train", "Off-policy learning from trajectory shards and the live "
                                  "stream of new shards.");
  perpetua::QTrainConfig q;
  tool.AddVerb("q", "QT-Opt: image Q-function with CEM action maximisation", q, [&] {
    return perpetua::RunTrainQ(q, tool.effective_config(), [&](const std::vector<std::string>& dirs) {
      return perpetua::OpenDatasetReplay(dirs, q.dataset);
    });
  });
  tool.AddPlannedVerb("sac", "soft actor-critic (maximum entropy)");
  return tool.Main(argc, argv);
}
