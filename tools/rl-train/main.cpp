// rl-train: off-policy learning from everything ever collected plus the live stream.
#include <iostream>

#include "common/cli.h"
#include "nn/checkpoint_inspect.h"
#include "replay/dataset_replay.h"
#include "qtopt/remote_targets.h"
#include "qtopt/trainer.h"
#include "sac/sac_trainer.h"

namespace {

struct InspectConfig {
  std::string path;
  bool yaml = false;
  void Visit(perpetua::ConfigVisitor& v) {
    v.Field("path", path, "the checkpoint file (a run's latest.ckpt, ckpt-<step>.ckpt, promoted.ckpt)",
            perpetua::FieldKind::kPositional);
    v.Field("yaml", yaml, "print the run's effective config as YAML (for --config FILE) instead of the JSON");
  }
};

perpetua::ExitCode RunInspect(const InspectConfig& config) {
  const perpetua::CheckpointReport report = perpetua::InspectCheckpoint(config.path);
  if (config.yaml) {
    if (report.ConfigYaml().empty()) perpetua::Fail(perpetua::ExitCode::kBadData, config.path + ": no config recorded");
    std::cout << report.ConfigYaml();
    return perpetua::ExitCode::kOk;
  }
  std::cerr << report.ToTable();
  std::cout << report.ToJson().dump(2) << std::endl;
  return perpetua::ExitCode::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-train", "Off-policy learning from trajectory shards and the live "
                                  "stream of new shards.");
  perpetua::QTrainConfig q;
  tool.AddVerb("q", "QT-Opt: image Q-function with CEM action maximisation", q, [&] {
    return perpetua::RunTrainQ(q, tool.effective_config(), [&](const std::vector<std::string>& dirs, const perpetua::ShardSubset& subset) {
      return perpetua::OpenDatasetReplay(dirs, q.dataset, subset);
    });
  }, [&] { perpetua::CheckTrainQ(q); });
  perpetua::SacTrainConfig sac;
  tool.AddVerb("sac", "soft actor-critic (maximum entropy): tanh-Gaussian actor, twin critics", sac, [&] {
    return perpetua::RunTrainSac(sac, tool.effective_config(), [&](const std::vector<std::string>& dirs, const perpetua::ShardSubset& subset) {
      return perpetua::OpenDatasetReplay(dirs, sac.dataset, subset);
    });
  }, [&] { perpetua::CheckTrainSac(sac); });
  perpetua::TargetWorkerProcessConfig targets;
  tool.AddVerb("q-targets",
               "a Bellman-target worker process for rl-train q --target-workers.listen (docs/distributed.md)", targets,
               [&] { return perpetua::RunTargetWorker(targets); }, [&] { targets.Validate(); });
  InspectConfig inspect;
  tool.AddVerb("inspect",
               "what a checkpoint holds: algorithm, step, seed, reward, observations and actions, data, blobs "
               "(verified; table on stderr, JSON on stdout; exit 3 if damaged)",
               inspect, [&] { return RunInspect(inspect); });
  return tool.Main(argc, argv);
}
