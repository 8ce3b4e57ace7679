#include "replay/dataset_replay.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "common/document.h"
#include "common/error.h"
#include "common/log.h"
#include "data/dataset_reader.h"
#include "data/shard_format.h"

namespace perpetua {
namespace {

class EmptySampler : public TransitionSampler {
 public:
  int64_t num_transitions() const override { return 0; }
  TransitionBatch Sample(int, Rng&) override { Fail(ExitCode::kBadData, "no transitions to sample from"); }
};

// Action bounds from a shard's declared env spec ({"action": {"low": [...], "high": [...]}}).
std::optional<std::pair<std::vector<float>, std::vector<float>>> DeclaredActionBounds(const std::string& path) {
  const auto text = ReadDeclaredEnvSpec(path);
  if (!text) return std::nullopt;
  const nlohmann::json spec = TryParseJson(*text).value_or(nlohmann::json());
  if (!spec.is_object() || !spec.contains("action")) return std::nullopt;
  try {
    return std::make_pair(spec["action"].at("low").get<std::vector<float>>(),
                          spec["action"].at("high").get<std::vector<float>>());
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, path + ": data.attrs['" + kEnvSpecAttr + "'] has a malformed action box");
  }
}

// Action component names from a shard's declared env spec ({"action": {"names": [...]}}), if any.
std::vector<std::string> DeclaredActionNames(const std::string& path) {
  const auto text = ReadDeclaredEnvSpec(path);
  if (!text) return {};
  const nlohmann::json spec = TryParseJson(*text).value_or(nlohmann::json());
  if (!spec.is_object() || !spec.contains("action") || !spec["action"].is_object()) return {};
  const nlohmann::json& names = spec["action"].value("names", nlohmann::json::array());
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (!name.is_string()) Fail(ExitCode::kBadData, path + ": data.attrs['" + kEnvSpecAttr + "'] has a malformed action name");
    out.push_back(name.get<std::string>());
  }
  return out;
}

class DatasetReplay : public ReplayData {
 public:
  DatasetReplay(const std::vector<std::string>& dirs, const DatasetSamplerConfig& config) : config_(config) {
    if (!dirs.empty()) {
      auto sampler = std::make_unique<DatasetSampler>(dirs, config);
      if (sampler->num_transitions() > 0) {
        schema_ = sampler->schema();
        first_file_ = FirstShard(dirs);
      }
      offline_ = std::move(sampler);
    } else {
      offline_ = std::make_unique<EmptySampler>();
    }
    online_empty_ = std::make_unique<EmptySampler>();
  }

  const EnvSpec& spec() const override {
    if (!spec_) {
      PERPETUA_CHECK_MSG(schema_.has_value(), "spec() before any transition is known");
      spec_ = EnvSpecOfShard(first_file_, *schema_);
    }
    return *spec_;
  }
  TransitionSampler& offline() override { return *offline_; }
  TransitionSampler& online() override {
    if (online_) return *online_;
    return *online_empty_;
  }

  void AddOnlineShard(const std::string& path) override {
    if (!online_) {
      std::optional<Schema> expected = schema_;
      auto sampler = std::make_unique<DatasetSampler>(std::vector<std::string>{path}, config_, expected);
      if (!schema_) {
        schema_ = sampler->schema();
        first_file_ = path;
      }
      online_ = std::move(sampler);
    } else {
      online_->AddFile(path);
    }
  }

 private:
  static std::string FirstShard(const std::vector<std::string>& dirs) {
    for (const auto& dir : dirs) {
      const auto shards = ListShards(dir);
      if (!shards.empty()) return shards.front();
    }
    return dirs.front();  // a single file given directly
  }

  DatasetSamplerConfig config_;
  std::unique_ptr<TransitionSampler> offline_;
  std::unique_ptr<DatasetSampler> online_;
  std::unique_ptr<EmptySampler> online_empty_;
  std::optional<Schema> schema_;
  std::string first_file_;
  mutable std::optional<EnvSpec> spec_;
};

}  // namespace

EnvSpec EnvSpecOfShard(const std::string& path, const Schema& schema) {
  EnvSpec spec;
  spec.name = path;
  for (const auto& [key, key_spec] : schema.observations) {
    spec.observations.push_back({key, key_spec.dtype, key_spec.shape});
  }
  const auto bounds = DeclaredActionBounds(path);
  if (bounds) {
    if (static_cast<int64_t>(bounds->first.size()) != schema.action_dim ||
        bounds->second.size() != bounds->first.size()) {
      Fail(ExitCode::kBadData, path + ": declared action box has " + std::to_string(bounds->first.size()) +
                                   " components but the actions have " + std::to_string(schema.action_dim));
    }
    spec.action.low = bounds->first;
    spec.action.high = bounds->second;
    spec.action.names = DeclaredActionNames(path);
    if (!spec.action.names.empty() && spec.action.names.size() != bounds->first.size()) {
      Fail(ExitCode::kBadData, path + ": declared action names do not match its " +
                                   std::to_string(bounds->first.size()) + " components");
    }
  } else {
    spec.action.low.assign(static_cast<size_t>(schema.action_dim), -1.0f);
    spec.action.high.assign(static_cast<size_t>(schema.action_dim), 1.0f);
  }
  return spec;
}

std::unique_ptr<ReplayData> OpenDatasetReplay(const std::vector<std::string>& dirs,
                                              const DatasetSamplerConfig& config) {
  return std::make_unique<DatasetReplay>(dirs, config);
}

}  // namespace perpetua
