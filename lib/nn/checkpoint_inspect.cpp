#include "nn/checkpoint_inspect.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <ctime>
#include <sstream>

#include "common/config.h"
#include "common/error.h"
#include "common/fs.h"
#include "nn/checkpoint.h"

namespace perpetua {
namespace {

std::string Bytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  if (bytes < 1024 * 1024) return FixedText(bytes / 1024.0, 1) + " KiB";
  return FixedText(bytes / (1024.0 * 1024.0), 1) + " MiB";
}

std::string UtcText(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

nlohmann::json Get(const nlohmann::json& object, const char* key) {
  return object.is_object() && object.contains(key) ? object.at(key) : nlohmann::json();
}

// The run's data folders from its config YAML: {"data": [...], "online": "..."}.
nlohmann::json DataOf(const std::string& yaml) {
  nlohmann::json out = {{"data", nlohmann::json::array()}, {"online", ""}};
  if (yaml.empty()) return out;
  try {
    const YAML::Node root = YAML::Load(yaml);
    if (root["data"] && root["data"].IsSequence()) {
      for (const auto& item : root["data"]) out["data"].push_back(item.as<std::string>());
    }
    if (root["online"] && root["online"].IsScalar()) out["online"] = root["online"].as<std::string>();
  } catch (const YAML::Exception&) {
    // A config the checkpoint carries but this build cannot parse: the data stay unknown.
  }
  return out;
}

}  // namespace

CheckpointReport InspectCheckpoint(const std::string& path) {
  // ReadCheckpoint's two steps, keeping the bytes read for their count.
  const std::string bytes = ReadFileOrFail(path, ExitCode::kBadData);
  const CheckpointContents contents = ParseCheckpoint(bytes, path);
  CheckpointReport report;
  report.path = path;
  report.metadata = contents.metadata;
  report.bytes = static_cast<int64_t>(bytes.size());
  for (const auto& [name, blob] : contents.blobs) report.blobs.emplace_back(name, static_cast<int64_t>(blob.size()));
  return report;
}

std::string CheckpointReport::ConfigYaml() const {
  const nlohmann::json yaml = Get(metadata, "config_yaml");
  return yaml.is_string() ? yaml.get<std::string>() : "";
}

nlohmann::json CheckpointReport::ToJson() const {
  const nlohmann::json spec = Get(metadata, "env_spec");
  const nlohmann::json data = DataOf(ConfigYaml());
  nlohmann::json blob_list = nlohmann::json::array();
  for (const auto& [name, size] : blobs) blob_list.push_back({{"name", name}, {"bytes", size}});
  nlohmann::json rest = metadata;
  rest.erase("config_yaml");
  const nlohmann::json reward = Get(metadata, "reward");
  return {{"path", path},
          {"bytes", bytes},
          {"verified", true},
          {"algorithm", Get(metadata, "algorithm")},
          {"step", Get(metadata, "step")},
          {"seed", Get(metadata, "seed")},
          {"id", Get(metadata, "id")},
          {"created_unix", Get(metadata, "created_unix")},
          {"reward", reward.is_null() ? nlohmann::json("env") : reward},
          {"observations", Get(spec, "observations")},
          {"action", Get(spec, "action")},
          {"max_episode_steps", Get(spec, "max_episode_steps")},
          {"data", data.at("data")},
          {"online", data.at("online")},
          {"blobs", blob_list},
          {"metadata", rest}};
}

std::string CheckpointReport::ToTable() const {
  const nlohmann::json j = ToJson();
  std::ostringstream out;
  const auto line = [&](const std::string& label, const std::string& value) {
    out << label << std::string(label.size() < 12 ? 12 - label.size() : 1, ' ') << value << "\n";
  };
  const auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  line("checkpoint", path + " (" + Bytes(bytes) + ", verified)");
  line("algorithm", text(j["algorithm"]) + ", step " + text(j["step"]) + ", seed " + text(j["seed"]));
  line("id", text(j["id"]));
  if (j["created_unix"].is_number()) line("written", UtcText(j["created_unix"].get<double>()));
  std::string reward = text(j["reward"]);
  const nlohmann::json examples = Get(metadata, "vice_examples"), queries = Get(metadata, "vice_queries");
  if (examples.is_object()) {
    reward += " (classifier on " + text(Get(examples, "train")) + " examples, " + text(Get(examples, "holdout")) +
              " held back";
    if (queries.is_object()) {
      reward += "; " + text(Get(queries, "asked")) + " questions: " + text(Get(queries, "answered_success")) +
                " success, " + text(Get(queries, "answered_failure")) + " failure";
    }
    reward += ")";
  }
  line("reward", reward);
  if (j["observations"].is_array()) {
    for (const auto& o : j["observations"]) {
      line("observes", text(Get(o, "key")) + " " + text(Get(o, "dtype")) + " " + Get(o, "shape").dump());
    }
  }
  const nlohmann::json action = j["action"];
  if (action.is_object()) {
    std::string names;
    for (const auto& n : Get(action, "names")) names += (names.empty() ? "" : " ") + text(n);
    const nlohmann::json low = Get(action, "low"), high = Get(action, "high");
    // One box for every dimension reads as [lo, hi]; otherwise both lists.
    const bool same = low.is_array() && high.is_array() && !low.empty() &&
                      std::all_of(low.begin(), low.end(), [&](const nlohmann::json& x) { return x == low[0]; }) &&
                      std::all_of(high.begin(), high.end(), [&](const nlohmann::json& x) { return x == high[0]; });
    const auto number = [](const nlohmann::json& x) { return x.is_number() ? ShortestNumberText(x.get<double>()) : x.dump(); };
    line("acts", names + " in " + (same ? "[" + number(low[0]) + ", " + number(high[0]) + "]" : low.dump() + " .. " + high.dump()));
  }
  if (j["max_episode_steps"].is_number()) line("episodes", "at most " + text(j["max_episode_steps"]) + " steps");
  std::string data;
  for (const auto& d : j["data"]) data += (data.empty() ? "" : " ") + text(d);
  line("data", data.empty() ? "(none offline)" : data);
  if (!j["online"].get<std::string>().empty()) line("online", j["online"].get<std::string>());
  int64_t blob_bytes = 0;
  for (const auto& [name, size] : blobs) blob_bytes += size;
  line("blobs", std::to_string(blobs.size()) + " (" + Bytes(blob_bytes) + ")");
  line("config", ConfigYaml().empty() ? "(none recorded)" : "rl-train inspect " + path + " --yaml prints it");
  return out.str();
}

}  // namespace perpetua
