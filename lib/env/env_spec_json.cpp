#include "env/env_spec_json.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"

namespace perpetua {
namespace {

// A problem found while parsing: unwinds to ParseEnvSpecJson.
struct Problem {
  std::string what;
};

const nlohmann::json& Field(const nlohmann::json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end()) throw Problem{std::string("no '") + key + "' field"};
  return *it;
}

std::string StringField(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = Field(json, key);
  if (!value.is_string()) throw Problem{std::string("'") + key + "' is not a string"};
  return value.get<std::string>();
}

double NumberField(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = Field(json, key);
  if (!value.is_number()) throw Problem{std::string("'") + key + "' is not a number"};
  return value.get<double>();
}

std::vector<float> FloatList(const nlohmann::json& value, const std::string& what) {
  if (!value.is_array()) throw Problem{what + " is not a list of numbers"};
  std::vector<float> out;
  for (const auto& x : value) {
    if (!x.is_number()) throw Problem{what + " is not a list of numbers"};
    out.push_back(x.get<float>());
  }
  return out;
}

ObservationSpec ParseObservation(const nlohmann::json& o) {
  if (!o.is_object()) throw Problem{"an observation entry is not an object"};
  ObservationSpec spec;
  spec.key = StringField(o, "key");
  if (spec.key.empty()) throw Problem{"an observation key is empty"};
  const std::string dtype = StringField(o, "dtype");
  if (dtype == "uint8") {
    spec.dtype = DType::kUint8;
  } else if (dtype == "float32") {
    spec.dtype = DType::kFloat32;
  } else {
    throw Problem{"observation '" + spec.key + "' has dtype '" + dtype + "' (expected uint8 or float32)"};
  }
  const nlohmann::json& shape = Field(o, "shape");
  if (!shape.is_array() || shape.size() > 8) throw Problem{"observation '" + spec.key + "' has a bad shape"};
  for (const auto& d : shape) {
    // Signed or unsigned (JSON built in memory holds int64 shapes; parsed text, unsigned).
    if (!d.is_number_integer() || d.get<int64_t>() <= 0 || d.get<int64_t>() > (int64_t{1} << 24)) {
      throw Problem{"observation '" + spec.key + "' has a bad shape " + shape.dump()};
    }
    spec.shape.push_back(d.get<int64_t>());
  }
  return spec;
}

ActionSpec ParseAction(const nlohmann::json& action) {
  if (!action.is_object()) throw Problem{"'action' is not an object"};
  ActionSpec spec;
  spec.low = FloatList(Field(action, "low"), "action 'low'");
  spec.high = FloatList(Field(action, "high"), "action 'high'");
  if (spec.low.empty() || spec.low.size() != spec.high.size()) {
    throw Problem{"action 'low' and 'high' must be non-empty lists of the same length"};
  }
  for (int i = 0; i < spec.dim(); ++i) {
    if (!std::isfinite(spec.low[i]) || !std::isfinite(spec.high[i]) || spec.low[i] > spec.high[i]) {
      throw Problem{"action bound " + std::to_string(i) + " is not a finite interval low <= high"};
    }
  }
  if (action.contains("names")) {
    const nlohmann::json& names = action["names"];
    if (!names.is_array()) throw Problem{"action 'names' is not a list"};
    for (const auto& n : names) {
      if (!n.is_string()) throw Problem{"action 'names' is not a list of strings"};
      spec.names.push_back(n.get<std::string>());
    }
    if (!spec.names.empty() && static_cast<int>(spec.names.size()) != spec.dim()) {
      throw Problem{"action 'names' has " + std::to_string(spec.names.size()) + " entries for " +
                    std::to_string(spec.dim()) + " components"};
    }
  }
  return spec;
}

}  // namespace

nlohmann::json EnvSpecToJson(const EnvSpec& spec) {
  nlohmann::json observations = nlohmann::json::array();
  for (const ObservationSpec& o : spec.observations) {
    observations.push_back({{"key", o.key}, {"dtype", DTypeName(o.dtype)}, {"shape", o.shape}});
  }
  return {{"name", spec.name},
          {"observations", observations},
          {"action", {{"low", spec.action.low}, {"high", spec.action.high}, {"names", spec.action.names}}},
          {"max_episode_steps", spec.max_episode_steps},
          {"control_hz", spec.control_hz},
          {"env_args", spec.env_args.is_object() ? spec.env_args : nlohmann::json::object()}};
}

std::string ParseEnvSpecJson(const nlohmann::json& json, EnvSpec* out) {
  try {
    if (!json.is_object()) throw Problem{"not a JSON object"};
    EnvSpec spec;
    spec.name = StringField(json, "name");
    const nlohmann::json& observations = Field(json, "observations");
    if (!observations.is_array() || observations.empty()) throw Problem{"'observations' is not a non-empty list"};
    for (const auto& o : observations) {
      ObservationSpec parsed = ParseObservation(o);
      for (const auto& earlier : spec.observations) {
        if (earlier.key == parsed.key) throw Problem{"observation '" + parsed.key + "' is listed twice"};
      }
      spec.observations.push_back(std::move(parsed));
    }
    spec.action = ParseAction(Field(json, "action"));
    spec.control_hz = NumberField(json, "control_hz");
    if (!(spec.control_hz >= 0.0 && spec.control_hz <= 10000.0)) throw Problem{"'control_hz' is outside 0..10000"};
    const double steps = NumberField(json, "max_episode_steps");
    if (!(steps >= 1 && steps <= 1e8) || steps != std::floor(steps)) {
      throw Problem{"'max_episode_steps' is not an integer in 1..1e8"};
    }
    spec.max_episode_steps = static_cast<int>(steps);
    auto args = json.find("env_args");
    if (args != json.end() && !args->is_null()) {
      if (!args->is_object()) throw Problem{"'env_args' is not an object"};
      spec.env_args = *args;
    } else {
      spec.env_args = nlohmann::json::object();
    }
    *out = std::move(spec);
    return "";
  } catch (const Problem& p) {
    return p.what;
  }
}

EnvSpec EnvSpecFromJson(const nlohmann::json& json, const std::string& source) {
  EnvSpec spec;
  const std::string problem = ParseEnvSpecJson(json, &spec);
  if (!problem.empty()) Fail(ExitCode::kBadData, source + ": malformed environment spec: " + problem);
  return spec;
}

}  // namespace perpetua
