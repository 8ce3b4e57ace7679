#include "sac/sac_input_spec.h"

#include <map>
#include <sstream>

#include "common/error.h"

namespace perpetua {
namespace {

std::string Box(const std::vector<float>& low, const std::vector<float>& high) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < low.size(); ++i) out << (i ? ", " : "") << low[i] << ".." << high[i];
  out << "]";
  return out.str();
}

std::string KeyList(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "'" : ", '") + k + "'";
  return s.empty() ? "none" : s;
}

}  // namespace

SacInputSpec SacInputSpec::FromEnvSpec(const EnvSpec& env, const std::string& source) {
  SacInputSpec spec;
  std::map<std::string, std::vector<int64_t>> images, vectors;  // sorted by key
  for (const ObservationSpec& obs : env.observations) {
    if (obs.dtype == DType::kUint8 && obs.shape.size() == 3 && obs.shape[2] == 3) {
      images[obs.key] = obs.shape;
    } else if (obs.dtype == DType::kFloat32 && obs.shape.size() == 1 && obs.shape[0] > 0) {
      vectors[obs.key] = obs.shape;
    } else {
      Fail(ExitCode::kBadData, source + ": observation '" + obs.key + "' (" + DTypeName(obs.dtype) + " " +
                                   ShapeString(obs.shape) + ") is neither an [H,W,3] uint8 image nor a float32 vector");
    }
  }
  for (const auto& [key, shape] : images) {
    if (!spec.image_keys.empty() && (shape[0] != spec.height || shape[1] != spec.width)) {
      Fail(ExitCode::kBadData, source + ": images '" + spec.image_keys.front() + "' and '" + key +
                                   "' differ in size; SAC stacks images of one size");
    }
    spec.image_keys.push_back(key);
    spec.height = shape[0];
    spec.width = shape[1];
  }
  for (const auto& [key, shape] : vectors) {
    spec.proprio_keys.push_back(key);
    spec.proprio_sizes.push_back(shape[0]);
    spec.proprio_dim += shape[0];
  }
  if (images.empty() && vectors.empty()) Fail(ExitCode::kBadData, source + ": there are no observations to learn from");
  if (env.action.dim() == 0 || env.action.high.size() != env.action.low.size()) {
    Fail(ExitCode::kBadData, source + ": the action box is empty or malformed");
  }
  for (int i = 0; i < env.action.dim(); ++i) {
    if (!(env.action.low[i] < env.action.high[i])) {
      Fail(ExitCode::kBadData, source + ": action component " + std::to_string(i) + " has low >= high");
    }
  }
  spec.action_low = env.action.low;
  spec.action_high = env.action.high;
  return spec;
}

nlohmann::json SacInputSpec::ToJson() const {
  return {{"image_keys", image_keys},   {"height", height},           {"width", width},
          {"proprio_keys", proprio_keys}, {"proprio_sizes", proprio_sizes}, {"action_low", action_low},
          {"action_high", action_high}};
}

SacInputSpec SacInputSpec::FromJson(const nlohmann::json& json, const std::string& source) {
  SacInputSpec s;
  try {
    s.image_keys = json.at("image_keys").get<std::vector<std::string>>();
    s.height = json.at("height").get<int64_t>();
    s.width = json.at("width").get<int64_t>();
    s.proprio_keys = json.at("proprio_keys").get<std::vector<std::string>>();
    s.proprio_sizes = json.at("proprio_sizes").get<std::vector<int64_t>>();
    s.action_low = json.at("action_low").get<std::vector<float>>();
    s.action_high = json.at("action_high").get<std::vector<float>>();
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": malformed SAC input spec");
  }
  bool ok = s.proprio_keys.size() == s.proprio_sizes.size() && s.action_low.size() == s.action_high.size() &&
            !s.action_low.empty() && (s.image_keys.empty() || (s.height > 0 && s.width > 0));
  for (int64_t n : s.proprio_sizes) {
    ok = ok && n > 0;
    s.proprio_dim += n;
  }
  if (!ok || (s.image_keys.empty() && s.proprio_keys.empty())) {
    Fail(ExitCode::kBadData, source + ": malformed SAC input spec");
  }
  return s;
}

std::string SacInputSpec::Difference(const SacInputSpec& o) const {
  if (image_keys != o.image_keys) return "image keys " + KeyList(image_keys) + " vs " + KeyList(o.image_keys);
  if (height != o.height || width != o.width) {
    return "image size " + std::to_string(height) + "x" + std::to_string(width) + " vs " +
           std::to_string(o.height) + "x" + std::to_string(o.width);
  }
  if (proprio_keys != o.proprio_keys) return "proprio keys " + KeyList(proprio_keys) + " vs " + KeyList(o.proprio_keys);
  if (proprio_sizes != o.proprio_sizes) {
    return "proprio sizes " + ShapeString(proprio_sizes) + " vs " + ShapeString(o.proprio_sizes);
  }
  if (action_low != o.action_low || action_high != o.action_high) {
    return "action box " + Box(action_low, action_high) + " vs " + Box(o.action_low, o.action_high);
  }
  return "";
}

void CheckSameInputs(const SacInputSpec& checkpoint, const SacInputSpec& expected, const std::string& source,
                     const std::string& expected_name) {
  const std::string difference = checkpoint.Difference(expected);
  if (!difference.empty()) {
    Fail(ExitCode::kBadData, source + ": checkpoint does not match " + expected_name + ": " + difference +
                                 " (checkpoint vs " + expected_name + ")");
  }
}

}  // namespace perpetua
