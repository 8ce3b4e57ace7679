#include "replay/dataset_replay.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "common/document.h"
#include "common/error.h"
#include "common/fs.h"
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

// The action a shard's env spec declares: {"action": {"low": [...], "high": [...], "names": [...]}}
// ("names" optional).
struct DeclaredAction {
  std::vector<float> low, high;
  std::vector<std::string> names;  // empty when not declared
};
std::optional<DeclaredAction> ReadDeclaredAction(const std::string& path) {
  const auto text = ReadDeclaredEnvSpec(path);
  if (!text) return std::nullopt;
  const nlohmann::json spec = TryParseJson(*text).value_or(nlohmann::json());
  if (!spec.is_object() || !spec.contains("action")) return std::nullopt;
  try {
    const nlohmann::json& action = spec["action"];
    DeclaredAction declared{action.at("low").get<std::vector<float>>(), action.at("high").get<std::vector<float>>(),
                            action.value("names", std::vector<std::string>{})};
    return declared;
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, path + ": data.attrs['" + kEnvSpecAttr + "'] has a malformed action box");
  }
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
      dirs_ = dirs;
      offline_dataset_ = sampler.get();
      offline_ = std::move(sampler);
    } else {
      offline_ = std::make_unique<EmptySampler>();
    }
  }

  const EnvSpec& spec() const override {
    if (!spec_) {
      PERPETUA_CHECK_MSG(schema_.has_value(), "spec() before any transition is known");
      spec_ = EnvSpecOfShard(first_file_, *schema_);
    }
    return *spec_;
  }
  TransitionSampler& offline() override { return *offline_; }

  std::vector<std::string> RefreshOffline() override {
    if (!offline_dataset_) return {};
    std::vector<std::string> added = offline_dataset_->Refresh();
    if (!schema_ && offline_dataset_->num_transitions() > 0) {
      schema_ = offline_dataset_->schema();
      first_file_ = FirstShard(dirs_);
    }
    return added;
  }

  // Each online shard is a sampler of its own with the whole memory budget:
  // a sampler caches at most its own shard's observations, so the online
  // buffer's cache is bounded by the window's data.
  std::unique_ptr<TransitionSampler> OpenShard(const std::string& path) override {
    auto sampler = std::make_unique<DatasetSampler>(std::vector<std::string>{path}, config_, schema_);
    if (!schema_) {
      schema_ = sampler->schema();
      first_file_ = path;
    }
    return sampler;
  }

 private:
  // The first file of the data: a file given directly (a robomimic, D4RL or
  // Minari file, or one shard), else the first shard of the first directory that has one.
  static std::string FirstShard(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
      if (!IsDirectory(path)) return path;
      const auto shards = ListShards(path);
      if (!shards.empty()) return shards.front();
    }
    return paths.front();
  }

  DatasetSamplerConfig config_;
  std::vector<std::string> dirs_;
  std::unique_ptr<TransitionSampler> offline_;
  DatasetSampler* offline_dataset_ = nullptr;  // offline_, when --data was given
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
  const auto declared = ReadDeclaredAction(path);
  if (declared) {
    if (static_cast<int64_t>(declared->low.size()) != schema.action_dim ||
        declared->high.size() != declared->low.size()) {
      Fail(ExitCode::kBadData, path + ": declared action box has " + std::to_string(declared->low.size()) +
                                   " components but the actions have " + std::to_string(schema.action_dim));
    }
    if (!declared->names.empty() && declared->names.size() != declared->low.size()) {
      Fail(ExitCode::kBadData, path + ": declared action names do not match its " +
                                   std::to_string(declared->low.size()) + " components");
    }
    spec.action.low = declared->low;
    spec.action.high = declared->high;
    spec.action.names = declared->names;
  } else {
    spec.action.low.assign(static_cast<size_t>(schema.action_dim), -1.0f);
    spec.action.high.assign(static_cast<size_t>(schema.action_dim), 1.0f);
  }
  return spec;
}

std::unique_ptr<ReplayData> OpenDatasetReplay(const std::vector<std::string>& dirs, DatasetSamplerConfig config,
                                              const ShardSubset& subset) {
  config.subset = subset;
  return std::make_unique<DatasetReplay>(dirs, config);
}

}  // namespace perpetua
