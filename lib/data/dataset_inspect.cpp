#include "data/dataset_inspect.h"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

#include "common/document.h"
#include "common/fs.h"
#include "data/dataset_reader.h"
#include "data/dataset_recovery.h"
#include "data/hdf5_io.h"
#include "data/shard_format.h"

namespace perpetua {
namespace {

// `text` parsed (document.h limits), or as a plain string if it is not JSON
// within them: an odd provenance is shown, not fatal.
nlohmann::json ParseOr(const std::string& text, nlohmann::json fallback) {
  if (text.empty()) return fallback;
  std::optional<nlohmann::json> parsed = TryParseJson(text);
  return parsed ? std::move(*parsed) : nlohmann::json(text);
}

// Counts staged episode files under DIR/.staging (pending recovery or in progress).
int64_t CountStaged(const std::string& dir) {
  const std::string root = dir + "/" + kStagingDirName;
  std::error_code ec;
  int64_t n = 0;
  if (!IsDirectory(root)) return 0;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 3 && name[0] == 's' && name.compare(name.size() - 3, 3, ".h5") == 0) ++n;
  }
  return n;
}

// Counts the files recovery quarantined in DIR/.quarantine (not their .why notes).
int64_t CountQuarantined(const std::string& dir) {
  std::error_code ec;
  int64_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/" + kQuarantineDirName, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".why") != 0) ++n;
  }
  return n;
}

nlohmann::json SchemaJson(const Schema& schema) {
  nlohmann::json observations = nlohmann::json::object();
  for (const auto& [key, spec] : schema.observations) {
    observations[key] = {{"dtype", DTypeName(spec.dtype)}, {"shape", spec.shape}};
  }
  return {{"observations", observations}, {"action_dim", schema.action_dim}};
}

FileReport InspectFile(const std::string& path, bool deep, std::string* schema,
                       nlohmann::json* keys) {
  FileReport report;
  report.path = path;
  try {
    DatasetReader reader({path});
    const DatasetFileInfo& info = reader.files().at(0);
    report.format = info.format;
    report.schema_version = info.schema_version;
    report.provenance_json = info.provenance_json;
    report.tool_config_yaml = info.tool_config_yaml;
    report.env_args_json = info.env_args_json;
    report.episodes = static_cast<int64_t>(reader.num_episodes());
    report.transitions = reader.num_transitions();
    report.schema = reader.has_schema() ? reader.schema().Describe() : "";
    if (report.episodes == 0) Fail(ExitCode::kBadData, path + ": no episodes");
    if (schema->empty()) {
      *schema = report.schema;
      *keys = SchemaJson(reader.schema());
    } else if (*schema != report.schema) {
      Fail(ExitCode::kBadData, path + ": schema " + report.schema + " differs from " + *schema);
    }
    for (size_t i = 0; i < reader.num_episodes(); ++i) {
      if (deep) {
        const Episode episode = reader.ReadEpisode(i);
        if (episode.metadata.success) ++report.successes;
        if (!reader.episode(i).metadata_group.empty()) report.seeds.push_back(episode.metadata.seed);
      } else if (!reader.episode(i).metadata_group.empty()) {
        const EpisodeRef ref = reader.episode(i);
        h5::Handle group = h5::OpenGroup(reader.FileHandle(ref.file), ref.metadata_group, {ref.file, ""});
        if (h5::ReadAttrInt64(group.get(), "success", {ref.file, ref.metadata_group}).value_or(0)) {
          ++report.successes;
        }
        const std::optional<uint64_t> seed = h5::ReadAttrUint64(group.get(), "seed", {ref.file, ref.metadata_group});
        if (seed) report.seeds.push_back(*seed);
      }
    }
  } catch (const Error& e) {
    report.problem = e.what();
  }
  return report;
}

}  // namespace

DatasetReport InspectDatasets(const std::vector<std::string>& paths, bool deep) {
  DatasetReport report;
  if (paths.empty()) report.problems.push_back("no dataset given");
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    if (IsDirectory(path)) {
      try {
        const std::vector<std::string> shards = ListShards(path);
        if (shards.empty()) report.problems.push_back(path + ": no shards (no complete shard-*.h5 file)");
        files.insert(files.end(), shards.begin(), shards.end());
      } catch (const Error& e) {
        report.problems.push_back(e.what());
      }
      report.staged_episodes += CountStaged(path);
      report.quarantined_files += CountQuarantined(path);
    } else if (IsRegularFile(path)) {
      files.push_back(path);
    } else {
      report.problems.push_back(path + ": " + AccessProblem(path));
    }
  }
  std::set<uint64_t> seen;
  for (const std::string& file : files) {
    FileReport f = InspectFile(file, deep, &report.schema, &report.keys);
    if (!f.problem.empty()) report.problems.push_back(f.problem);
    for (uint64_t seed : f.seeds) report.repeated_seeds += seen.insert(seed).second ? 0 : 1;
    report.episodes += f.episodes;
    report.transitions += f.transitions;
    report.successes += f.successes;
    report.files.push_back(std::move(f));
  }
  return report;
}

nlohmann::json DatasetReport::ToJson() const {
  nlohmann::json out;
  out["valid"] = valid();
  out["problems"] = problems;
  out["episodes"] = episodes;
  out["transitions"] = transitions;
  out["successes"] = successes;
  out["repeated_seeds"] = repeated_seeds;
  out["success_rate"] = episodes > 0 ? static_cast<double>(successes) / static_cast<double>(episodes)
                                     : 0.0;
  out["schema"] = schema;
  out["keys"] = keys;
  out["staged_episodes"] = staged_episodes;
  out["quarantined_files"] = quarantined_files;
  out["files"] = nlohmann::json::array();
  for (const FileReport& f : files) {
    out["files"].push_back({{"path", f.path},
                            {"format", f.format},
                            {"schema_version", f.schema_version},
                            {"episodes", f.episodes},
                            {"transitions", f.transitions},
                            {"successes", f.successes},
                            {"schema", f.schema},
                            {"provenance", ParseOr(f.provenance_json, nlohmann::json::object())},
                            {"env_args", ParseOr(f.env_args_json, nlohmann::json::object())},
                            {"tool_config", f.tool_config_yaml},
                            {"problem", f.problem}});
  }
  return out;
}

std::string DatasetReport::ToTable() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line), "%-9s %8s %10s %8s  %s\n", "format", "episodes", "steps",
                "success", "file");
  out += line;
  // Long listings show the first files and every invalid one.
  constexpr size_t kShownFiles = 10;
  size_t hidden = 0;
  std::set<std::string> writers, hosts;
  for (size_t i = 0; i < files.size(); ++i) {
    const FileReport& f = files[i];
    const nlohmann::json provenance = ParseOr(f.provenance_json, nlohmann::json::object());
    if (provenance.is_object() && provenance.contains("writer_token")) {
      writers.insert(provenance["writer_token"].dump());
      const auto host = provenance.find("host");  // informational: any type is shown, never fatal
      hosts.insert(host == provenance.end() ? "?" : host->is_string() ? host->get<std::string>() : host->dump());
    }
    if (files.size() > 2 * kShownFiles && i >= kShownFiles && f.problem.empty()) {
      ++hidden;
      continue;
    }
    std::snprintf(line, sizeof(line), "%-9s %8lld %10lld %8s  %s%s\n",
                  f.format.empty() ? "?" : f.format.c_str(), static_cast<long long>(f.episodes),
                  static_cast<long long>(f.transitions),
                  f.episodes ? (std::to_string(100 * f.successes / f.episodes) + "%").c_str() : "-",
                  f.path.c_str(), f.problem.empty() ? "" : "  INVALID");
    out += line;
  }
  if (hidden > 0) out += "... and " + std::to_string(hidden) + " more valid files\n";
  std::snprintf(line, sizeof(line), "total: %lld files, %lld episodes, %lld steps, success %.3f\n",
                static_cast<long long>(files.size()), static_cast<long long>(episodes),
                static_cast<long long>(transitions),
                episodes ? static_cast<double>(successes) / static_cast<double>(episodes) : 0.0);
  out += line;
  if (!schema.empty()) out += "keys: " + schema + "\n";
  if (!writers.empty()) {
    std::string host_list;
    for (const auto& h : hosts) host_list += (host_list.empty() ? "" : ", ") + h;
    out += "written by " + std::to_string(writers.size()) + " writer(s) on " + host_list + "\n";
  }
  if (!files.empty() && !files.front().provenance_json.empty()) {
    out += "provenance (first file): " + files.front().provenance_json + "\n";
  }
  if (staged_episodes > 0) {
    out += std::to_string(staged_episodes) +
           " staged episodes not in a shard yet (a live writer, or run: rl-data recover DIR)\n";
  }
  if (repeated_seeds > 0) {
    out += "warning: " + std::to_string(repeated_seeds) +
           " episodes repeat the reset seed of an earlier one (the same episode again: a collect command run "
           "twice? give --first-episode N or another --seed)\n";
  }
  if (quarantined_files > 0) {
    out += std::to_string(quarantined_files) +
           " damaged files set aside in .quarantine (the reason for each is in <file>.why)\n";
  }
  out += valid() ? "valid\n" : "INVALID: " + problems.front() + "\n";
  return out;
}

}  // namespace perpetua
