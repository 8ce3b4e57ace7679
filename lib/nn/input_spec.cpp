#include "nn/input_spec.h"

#include <algorithm>

#include "common/error.h"
#include "nn/checkpoint.h"

namespace perpetua {
namespace {

// Sorts `keys` and `sizes` together by key.
void SortByKey(std::vector<std::string>* keys, std::vector<int64_t>* sizes) {
  std::vector<size_t> order(keys->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*keys)[a] < (*keys)[b]; });
  std::vector<std::string> sorted_keys;
  std::vector<int64_t> sorted_sizes;
  for (size_t i : order) {
    sorted_keys.push_back((*keys)[i]);
    sorted_sizes.push_back((*sizes)[i]);
  }
  *keys = sorted_keys;
  *sizes = sorted_sizes;
}

std::string Quoted(const std::vector<std::string>& keys) {
  std::string s;
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", '" : "'") + keys[i] + "'";
  return s;
}

}  // namespace

InputSpec InputSpec::FromEnvSpec(const EnvSpec& env, const std::string& source) {
  InputSpec spec;
  for (const ObservationSpec& obs : env.observations) {
    const bool image = obs.dtype == DType::kUint8 && obs.shape.size() == 3 && obs.shape[2] == 3;
    if (image) {
      if (!spec.image_keys.empty() && (obs.shape[0] != spec.height || obs.shape[1] != spec.width)) {
        Fail(ExitCode::kBadData, source + ": images '" + spec.image_keys.front() + "' and '" + obs.key +
                                     "' differ in size (" + ShapeString(obs.shape) + ")");
      }
      spec.image_keys.push_back(obs.key);
      spec.height = obs.shape[0];
      spec.width = obs.shape[1];
    } else if (obs.dtype == DType::kFloat32 && obs.shape.size() == 1) {
      spec.proprio_keys.push_back(obs.key);
      spec.proprio_sizes.push_back(obs.shape[0]);
      spec.proprio_dim += obs.shape[0];
    } else {
      Fail(ExitCode::kBadData, source + ": observation '" + obs.key + "' (" + DTypeName(obs.dtype) + " " +
                                   ShapeString(obs.shape) +
                                   ") is neither an [H,W,3] uint8 image nor a float32 vector");
    }
  }
  // Inputs are stacked in key order, whatever order a spec lists them in.
  std::sort(spec.image_keys.begin(), spec.image_keys.end());
  SortByKey(&spec.proprio_keys, &spec.proprio_sizes);
  if (env.action.dim() == 0) Fail(ExitCode::kBadData, source + ": the action space is empty");
  spec.action_low = env.action.low;
  spec.action_high = env.action.high;
  const auto& names = env.action.names;
  const auto terminate = std::find(names.begin(), names.end(), "terminate");
  if (terminate != names.end()) spec.terminate_index = terminate - names.begin();
  return spec;
}

nlohmann::json InputSpec::ToJson() const {
  nlohmann::json json = {{"image_keys", image_keys},     {"height", height},
                         {"width", width},               {"proprio_keys", proprio_keys},
                         {"proprio_sizes", proprio_sizes}, {"action_low", action_low},
                         {"action_high", action_high}};
  if (image_keys.size() == 1) json["image_key"] = image_keys.front();
  if (terminate_index >= 0) json["terminate_index"] = terminate_index;
  return json;
}

InputSpec InputSpec::FromJson(const nlohmann::json& json, const std::string& source) {
  InputSpec s;
  if (json.is_object() && json.contains("image_keys")) {
    s.image_keys = MetadataField<std::vector<std::string>>(json, "image_keys", source);
  } else {
    s.image_keys = {MetadataField<std::string>(json, "image_key", source)};
  }
  s.height = MetadataField<int64_t>(json, "height", source);
  s.width = MetadataField<int64_t>(json, "width", source);
  s.proprio_keys = MetadataField<std::vector<std::string>>(json, "proprio_keys", source);
  s.proprio_sizes = MetadataField<std::vector<int64_t>>(json, "proprio_sizes", source);
  s.action_low = MetadataField<std::vector<float>>(json, "action_low", source);
  s.action_high = MetadataField<std::vector<float>>(json, "action_high", source);
  if (json.contains("terminate_index")) s.terminate_index = MetadataField<int64_t>(json, "terminate_index", source);
  const bool size_ok = s.image_keys.empty() ? (s.height == 0 && s.width == 0) : (s.height > 0 && s.width > 0);
  if (s.proprio_keys.size() != s.proprio_sizes.size() || s.action_low.size() != s.action_high.size() ||
      !size_ok || s.action_low.empty() || s.terminate_index < -1 ||
      s.terminate_index >= static_cast<int64_t>(s.action_low.size())) {
    Fail(ExitCode::kBadData, source + ": checkpoint input spec is inconsistent");
  }
  for (int64_t n : s.proprio_sizes) {
    if (n < 0 || n > (int64_t{1} << 32)) Fail(ExitCode::kBadData, source + ": checkpoint input spec has a bad vector size");
    s.proprio_dim += n;
  }
  return s;
}

std::string InputSpec::Difference(const InputSpec& o) const {
  auto vec = [](const std::vector<float>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]).substr(0, 6);
    return s + "]";
  };
  if (image_keys != o.image_keys) {
    if (image_keys.size() == 1 && o.image_keys.size() == 1) {
      return "image key '" + image_keys.front() + "' vs '" + o.image_keys.front() + "'";
    }
    return "image keys [" + Quoted(image_keys) + "] vs [" + Quoted(o.image_keys) + "]";
  }
  if (height != o.height || width != o.width) {
    return "image size " + std::to_string(height) + "x" + std::to_string(width) + " vs " +
           std::to_string(o.height) + "x" + std::to_string(o.width);
  }
  if (proprio_keys != o.proprio_keys) {
    // e.g. one side observes "time_left" (--cell.observe-time) and the other not.
    return "vector observations [" + Quoted(proprio_keys) + "] vs [" + Quoted(o.proprio_keys) + "]";
  }
  if (proprio_sizes != o.proprio_sizes) {
    return "vector observations differ (" + std::to_string(proprio_dim) + " vs " +
           std::to_string(o.proprio_dim) + " values)";
  }
  if (action_low.size() != o.action_low.size()) {
    return "action dimension " + std::to_string(action_low.size()) + " vs " + std::to_string(o.action_low.size());
  }
  if (action_low != o.action_low || action_high != o.action_high) {
    return "action bounds " + vec(action_low) + ".." + vec(action_high) + " vs " + vec(o.action_low) + ".." +
           vec(o.action_high);
  }
  if (terminate_index != o.terminate_index) {
    const auto name = [](int64_t i) { return i < 0 ? std::string("none") : "component " + std::to_string(i); };
    return "terminate action " + name(terminate_index) + " vs " + name(o.terminate_index);
  }
  return "";
}

void CheckSameInputs(const InputSpec& checkpoint, const InputSpec& expected, const std::string& source,
                     const std::string& expected_name) {
  const std::string diff = checkpoint.Difference(expected);
  if (!diff.empty()) {
    Fail(ExitCode::kBadData, source + ": checkpoint does not match " + expected_name + ": " + diff +
                                 " (checkpoint vs " + expected_name + ")");
  }
}

}  // namespace perpetua
