// rl-data: inspect, validate and recover trajectory datasets.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#include "common/cli.h"
#include "common/log.h"
#include "data/dataset_inspect.h"
#include "data/dataset_recovery.h"

namespace {

using perpetua::ExitCode;

struct InspectConfig {
  std::vector<std::string> paths;  // directories of shards, or HDF5 files
  bool quick = false;
  void Visit(perpetua::ConfigVisitor& v) {
    v.Field("paths", paths, "dataset directories or HDF5 files (ours, robomimic, D4RL, Minari)",
            perpetua::FieldKind::kPositional);
    v.Field("quick", quick, "check headers and shapes only (skip reading every chunk)");
  }
};

struct RecoverConfig {
  std::string dir;
  void Visit(perpetua::ConfigVisitor& v) {
    v.Field("dir", dir, "dataset directory whose dead writers' episodes to recover",
            perpetua::FieldKind::kPositional);
  }
};

struct QuarantineConfig {
  std::string dir;
  void Visit(perpetua::ConfigVisitor& v) {
    v.Field("dir", dir, "dataset directory whose shards to verify in full",
            perpetua::FieldKind::kPositional);
  }
};

ExitCode RunInspect(const InspectConfig& config) {
  if (config.paths.empty()) {
    perpetua::Fail(ExitCode::kUsage, "inspect needs at least one dataset directory or file");
  }
  for (const std::string& path : config.paths) {  // a path that is not there: usage (2), as in every tool
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
      perpetua::Fail(ExitCode::kUsage, path + ": no such file or directory");
    }
  }
  const perpetua::DatasetReport report = perpetua::InspectDatasets(config.paths, !config.quick);
  std::cerr << report.ToTable();
  std::cout << report.ToJson().dump(2) << std::endl;
  if (!report.valid()) perpetua::Fail(ExitCode::kBadData, report.problems.front());
  return ExitCode::kOk;
}

ExitCode RunRecover(const RecoverConfig& config) {
  if (config.dir.empty()) perpetua::Fail(ExitCode::kUsage, "recover needs a dataset directory");
  const perpetua::RecoveryReport report = perpetua::RecoverDataset(config.dir);
  for (const auto& shard : report.shards_written) std::cout << shard << "\n";
  std::cout.flush();
  perpetua::LogInfo("recovered " + std::to_string(report.episodes_recovered) + " episodes into " +
                    std::to_string(report.shards_written.size()) + " shards; removed " +
                    std::to_string(report.duplicates_removed) + " already-merged staged files; " +
                    std::to_string(report.live_writers) + " live writers left alone; " +
                    std::to_string(report.quarantined.size()) + " damaged files quarantined");
  return ExitCode::kOk;
}

ExitCode RunQuarantine(const QuarantineConfig& config) {
  if (config.dir.empty()) perpetua::Fail(ExitCode::kUsage, "quarantine needs a dataset directory");
  const std::vector<std::string> moved = perpetua::QuarantineInvalidShards(config.dir);
  for (const auto& line : moved) std::cout << line.substr(0, line.find(": ")) << "\n";
  std::cout.flush();
  perpetua::LogInfo("quarantined " + std::to_string(moved.size()) + " shards that do not verify");
  return ExitCode::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-data", "Inspect, validate and recover trajectory datasets.");
  InspectConfig inspect;
  RecoverConfig recover;
  tool.AddVerb("inspect",
               "print episodes, steps, keys, shapes, success rate and provenance; exit 0 if "
               "valid, 3 if not (table on stderr, JSON on stdout)",
               inspect, [&] { return RunInspect(inspect); });
  QuarantineConfig quarantine;
  tool.AddVerb("recover",
               "merge episodes staged by dead writers into shards (prints the new shard paths); "
               "damaged staged files are moved to DIR/.quarantine",
               recover, [&] { return RunRecover(recover); });
  tool.AddVerb("quarantine",
               "verify every shard in full and move those that fail to DIR/.quarantine "
               "(prints their new paths)",
               quarantine, [&] { return RunQuarantine(quarantine); });
  return tool.Main(argc, argv);
}
