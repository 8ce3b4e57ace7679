#include "env/env_config.h"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "common/config.h"
#include "common/error.h"

namespace perpetua {

nlohmann::json EnvConfigToArgs(const EnvConfig& config) {
  EnvConfig copy = config;
  nlohmann::json kwargs = nlohmann::json::object();
  for (const FieldInfo& field : ListFields(copy)) {
    std::visit(
        [&](const auto& pointer) {
          using T = std::decay_t<decltype(pointer)>;
          // Nested groups flatten to dotted keys ("randomize.lighting");
          // settings of this machine (robot connection, secrets) stay out of datasets.
          if constexpr (std::is_pointer_v<T>) {
            if (field.scope == FieldScope::kShared) kwargs[field.path] = *pointer;
          }
        },
        field.ptr);
  }
  return {{"env_name", config.name}, {"type", "perpetua"}, {"env_kwargs", kwargs}};
}

EnvConfig EnvConfigFromArgs(const nlohmann::json& env_args) {
  if (!env_args.is_object() || !env_args.contains("env_kwargs") ||
      !env_args.at("env_kwargs").is_object()) {
    Fail(ExitCode::kBadData, "env_args must be an object with an env_kwargs object");
  }
  EnvConfig config;
  std::vector<FieldInfo> fields = ListFields(config);
  const nlohmann::json& kwargs = env_args.at("env_kwargs");
  std::vector<std::string> known;
  for (const FieldInfo& field : fields) {
    if (field.ptr.index() != 0) known.push_back(field.path);
  }
  for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
    auto found = std::find_if(fields.begin(), fields.end(), [&](const FieldInfo& field) {
      return field.path == it.key() && field.ptr.index() != 0;
    });
    if (found == fields.end()) {
      std::string message = "env_args: unknown key '" + it.key() + "'";
      const std::string suggestion = SuggestClosest(it.key(), known);
      if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
      Fail(ExitCode::kBadData, message);
    }
    try {
      std::visit(
          [&](const auto& pointer) {
            using T = std::decay_t<decltype(pointer)>;
            if constexpr (std::is_pointer_v<T>) {
              *pointer = it.value().get<std::remove_pointer_t<T>>();
            }
          },
          found->ptr);
    } catch (const nlohmann::json::exception&) {
      Fail(ExitCode::kBadData, "env_args: key '" + it.key() + "' has the wrong type");
    }
  }
  if (env_args.contains("env_name") && env_args.at("env_name") != config.name) {
    Fail(ExitCode::kBadData, "env_args: env_name and env_kwargs.name disagree");
  }
  return config;
}

void VisitEnvFlags(ConfigVisitor& v, EnvConfig& env, CellFlags& cell) {
  cell.env = &env;
  v.Field("env", env.name, kEnvNameHelp);
  v.Field("objects", env.objects, kObjectsHelp);
  v.Field("goals", env.goals, kGoalsHelp);
  v.Group("cell", cell, "cell settings");
  v.Group("robot", env.robot, "remote robot connection (when --env is tcp:// or unix://)");
}

}  // namespace perpetua
