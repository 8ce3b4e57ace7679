#include "policy/checkpoint_policy.h"

#include <map>
#include <mutex>

#include "common/error.h"
#include "nn/checkpoint.h"

namespace perpetua {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, CheckpointPolicyLoader> loaders;
};

Registry& TheRegistry() {
  static Registry registry;
  return registry;
}

}  // namespace

void RegisterCheckpointPolicy(const std::string& algorithm, CheckpointPolicyLoader loader) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.loaders[algorithm] = std::move(loader);
}

std::vector<std::string> RegisteredCheckpointAlgorithms() {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, loader] : r.loaders) names.push_back(name);
  return names;
}

std::unique_ptr<Policy> LoadCheckpointPolicy(const std::string& path, const EnvSpec& expected,
                                             const PolicyLoadOptions& options) {
  const nlohmann::json metadata = ReadCheckpointMetadata(path);
  const std::string algorithm = MetadataValue<std::string>(metadata, "algorithm", "(none)", path);
  CheckpointPolicyLoader loader;
  {
    Registry& r = TheRegistry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto found = r.loaders.find(algorithm);
    if (found != r.loaders.end()) loader = found->second;
  }
  if (!loader) {
    std::string known;
    for (const auto& name : RegisteredCheckpointAlgorithms()) known += (known.empty() ? "" : ", ") + name;
    Fail(ExitCode::kBadData, path + ": checkpoint algorithm '" + algorithm + "' is not supported (this build reads: " +
                                 (known.empty() ? std::string("none registered") : known) + ")");
  }
  return loader(path, expected, options);
}

}  // namespace perpetua
