#include "data/dataset_formats.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <set>

#include "common/whole_number.h"
#include "data/shard_format.h"

namespace perpetua {
namespace {

using h5::Handle;
using h5::Where;

int64_t Rows(hid_t file, const std::string& path, const Where& where) {
  Handle dataset = h5::OpenDataset(file, path, where);
  const h5::DatasetShape shape = h5::GetShape(dataset.get(), where.Child(path));
  if (shape.dims.empty()) Fail(ExitCode::kBadData, where.Child(path).str() + ": scalar dataset where rows were expected");
  return shape.dims[0];
}

h5::DatasetShape ExpectRows(hid_t file, const std::string& path, int64_t want, const Where& where) {
  Handle dataset = h5::OpenDataset(file, path, where);
  const h5::DatasetShape shape = h5::GetShape(dataset.get(), where.Child(path));
  const int64_t rows = shape.dims.empty() ? -1 : shape.dims[0];
  if (rows != want) {
    Fail(ExitCode::kBadData, where.Child(path).str() + ": has " + std::to_string(rows) +
                                 " rows, expected " + std::to_string(want));
  }
  return shape;
}

// Per-step spec of an observation dataset.
KeySpec SpecOf(const h5::DatasetShape& shape, const Where& where) {
  return KeySpec{h5::ObservationDType(shape, where),
                 std::vector<int64_t>(shape.dims.begin() + 1, shape.dims.end())};
}

// Action size from the actions dataset's shape: (N, A), or (N,) for A = 1.
int64_t ActionDim(hid_t file, const std::string& path, const Where& where, int64_t* rows) {
  Handle dataset = h5::OpenDataset(file, path, where);
  const h5::DatasetShape shape = h5::GetShape(dataset.get(), where.Child(path));
  if (shape.dims.empty() || shape.dims.size() > 2) {
    Fail(ExitCode::kBadData, where.Child(path).str() + ": actions must be (N, A), got " +
                                 ShapeString(shape.dims));
  }
  *rows = shape.dims[0];
  return shape.dims.size() == 2 ? shape.dims[1] : 1;
}

// Checks that the observation after the last action (in `final_path`) has the
// spec of the other observations.
void ExpectSameSpec(const KeySpec& spec, const h5::DatasetShape& final_shape,
                    const std::string& final_path, const Where& where) {
  const KeySpec final_spec = SpecOf(final_shape, where.Child(final_path));
  if (final_spec != spec) {
    Fail(ExitCode::kBadData, where.Child(final_path).str() + ": is " + DTypeName(final_spec.dtype) +
                                 " " + ShapeString(final_spec.shape) + " per step, expected " +
                                 DTypeName(spec.dtype) + " " + ShapeString(spec.shape));
  }
}

// Every episode of a file must share one schema: the first fixes it.
void AgreeOnSchema(const Schema& episode, const std::string& name, const Where& where,
                   Schema* file_schema, std::string* first_name) {
  if (first_name->empty()) {
    *file_schema = episode;
    *first_name = name;
    return;
  }
  const std::string diff = episode.DifferenceFrom(*file_schema);
  if (!diff.empty()) {
    Fail(ExitCode::kBadData, where.str() + ": " + name + ": " + diff + " (as in " + *first_name + ")");
  }
}

// Sorted numerically by the integer after `prefix` ("demo_2" before "demo_10").
std::vector<std::string> NumberedLinks(hid_t group, const std::string& prefix, const Where& where) {
  std::vector<std::pair<long long, std::string>> numbered;
  for (const std::string& name : h5::ListLinks(group, where)) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    const std::optional<uint64_t> number = ParseWholeNumber(digits, std::numeric_limits<int64_t>::max());
    if (!number) Fail(ExitCode::kBadData, where.str() + ": " + name + ": episode number out of range");
    numbered.emplace_back(static_cast<long long>(*number), name);
  }
  std::sort(numbered.begin(), numbered.end());
  std::vector<std::string> names;
  for (auto& item : numbered) names.push_back(item.second);
  return names;
}

// Observation keys of a group of observation datasets (obs/, next_obs/, ...).
std::vector<std::string> ObservationKeys(hid_t file, const std::string& group_path,
                                         const Where& where) {
  Handle group = h5::OpenGroup(file, group_path, where);
  std::vector<std::string> keys = h5::ListLinks(group.get(), where.Child(group_path));
  if (keys.empty()) Fail(ExitCode::kBadData, where.Child(group_path).str() + ": no observations");
  return keys;
}

// data/demo_<i> groups of a perpetua shard or a robomimic file.
// The demo names listed in mask/<filter_key> (robomimic's filter keys).
std::set<std::string> FilterDemos(hid_t file, const std::string& filter_key, const Where& where) {
  const std::string mask = "mask/" + filter_key;
  if (!h5::LinkExists(file, mask)) {
    std::string known;
    if (h5::LinkExists(file, "mask")) {
      Handle group = h5::OpenGroup(file, "mask", where);
      for (const std::string& name : h5::ListLinks(group.get(), where.Child("mask"))) {
        known += (known.empty() ? "" : ", ") + name;
      }
    }
    Fail(ExitCode::kBadData, where.str() + ": no filter key '" + filter_key + "' (has: " +
                                 (known.empty() ? "none" : known) + ")");
  }
  const std::vector<std::string> names = h5::ReadStringList(file, mask, where);
  return std::set<std::string>(names.begin(), names.end());
}

std::vector<EpisodeRef> IndexDemos(hid_t file, const std::string& path, bool ours,
                                   const std::string& filter_key, DatasetFileInfo* info,
                                   Schema* file_schema) {
  const Where where{path, ""};
  const bool filtered = !filter_key.empty();
  const std::set<std::string> keep = filtered ? FilterDemos(file, filter_key, where) : std::set<std::string>{};
  Handle data = h5::OpenGroup(file, "data", where);
  info->env_args_json = h5::ReadAttrString(data.get(), "env_args", where.Child("data")).value_or("");
  info->env_spec_json = h5::ReadAttrString(data.get(), kEnvSpecAttr, where.Child("data")).value_or("");
  std::vector<EpisodeRef> refs;
  int64_t total = 0;
  std::string first_name;
  for (const std::string& demo : NumberedLinks(data.get(), "demo_", where.Child("data"))) {
    const std::string g = "data/" + demo;
    if (filtered && !keep.count(demo)) continue;
    Handle group = h5::OpenGroup(file, g, where);
    EpisodeRef ref;
    ref.file = path;
    ref.format = info->format;
    ref.name = g;
    ref.metadata_group = g;
    ref.actions = g + "/actions";
    ref.rewards = g + "/rewards";
    Schema schema;
    int64_t rows = 0;
    schema.action_dim = ActionDim(file, ref.actions, where, &rows);
    const auto num_samples = h5::ReadAttrInt64(group.get(), "num_samples", where.Child(g));
    if (ours && !num_samples) Fail(ExitCode::kBadData, where.Child(g).str() + ": missing attribute num_samples");
    if (num_samples && *num_samples != rows) {
      Fail(ExitCode::kBadData, where.Child(g).str() + ": num_samples is " +
                                   std::to_string(*num_samples) + " but actions has " +
                                   std::to_string(rows) + " rows");
    }
    total += rows;
    ExpectRows(file, ref.rewards, rows, where);
    const bool has_flags = h5::LinkExists(file, g + "/terminated");
    ref.terminated = has_flags ? g + "/terminated" : g + "/dones";
    ref.truncated = has_flags && h5::LinkExists(file, g + "/truncated") ? g + "/truncated" : "";
    ExpectRows(file, ref.terminated, rows, where);
    if (!ref.truncated.empty()) ExpectRows(file, ref.truncated, rows, where);
    const bool has_final = h5::LinkExists(file, g + "/final_obs");
    const bool has_next = h5::LinkExists(file, g + "/next_obs");
    ref.num_steps = (has_final || has_next) ? rows : rows - 1;
    for (const std::string& key : ObservationKeys(file, g + "/obs", where)) {
      ref.obs[key] = g + "/obs/" + key;
      const KeySpec spec = SpecOf(ExpectRows(file, ref.obs[key], rows, where), where.Child(ref.obs[key]));
      schema.observations[key] = spec;
      if (has_final) {
        ref.final_obs[key] = g + "/final_obs/" + key;
        ExpectSameSpec(spec, ExpectRows(file, ref.final_obs[key], 1, where), ref.final_obs[key], where);
        ref.final_row = 0;
      } else if (has_next) {
        ref.final_obs[key] = g + "/next_obs/" + key;
        ExpectSameSpec(spec, ExpectRows(file, ref.final_obs[key], rows, where), ref.final_obs[key], where);
        ref.final_row = rows - 1;
      } else {
        ref.final_obs[key] = ref.obs[key];
        ref.final_row = rows - 1;
      }
    }
    if (ref.num_steps >= 1) {
      AgreeOnSchema(schema, g, where, file_schema, &first_name);
      refs.push_back(std::move(ref));
    }
  }
  const auto declared = h5::ReadAttrInt64(data.get(), "total", where.Child("data"));
  if (ours && !filtered && declared && *declared != total) {
    Fail(ExitCode::kBadData, where.Child("data").str() + ": total is " + std::to_string(*declared) +
                                 " but the episodes hold " + std::to_string(total) + " steps");
  }
  if (ours) {
    // Our masks must name existing demos (robomimic filters by them).
    const std::vector<std::string> demos = h5::ListLinks(data.get(), where.Child("data"));
    const std::set<std::string> present(demos.begin(), demos.end());
    for (const char* mask : {"mask/train", "mask/valid"}) {
      if (!h5::LinkExists(file, mask)) continue;
      for (const std::string& name : h5::ReadStringList(file, mask, where)) {
        if (!present.count(name)) {
          Fail(ExitCode::kBadData, where.Child(mask).str() + ": lists " + name +
                                       ", which is not in data/");
        }
      }
    }
  }
  return refs;
}

std::vector<EpisodeRef> IndexD4rl(hid_t file, const std::string& path, Schema* file_schema) {
  const Where where{path, ""};
  const int64_t rows = Rows(file, "observations", where);
  const KeySpec spec = SpecOf(ExpectRows(file, "observations", rows, where), where.Child("observations"));
  int64_t action_rows = 0;
  file_schema->action_dim = ActionDim(file, "actions", where, &action_rows);
  file_schema->observations["observation"] = spec;
  ExpectRows(file, "actions", rows, where);
  for (const char* name : {"rewards", "terminals"}) ExpectRows(file, name, rows, where);
  const bool has_timeouts = h5::LinkExists(file, "timeouts");
  const bool has_next = h5::LinkExists(file, "next_observations");
  if (has_timeouts) ExpectRows(file, "timeouts", rows, where);
  if (has_next) {
    ExpectSameSpec(spec, ExpectRows(file, "next_observations", rows, where), "next_observations", where);
  }
  std::vector<uint8_t> terminals(static_cast<size_t>(rows)), timeouts(static_cast<size_t>(rows), 0);
  {
    Handle d = h5::OpenDataset(file, "terminals", where);
    h5::ReadRowsU8(d.get(), 0, rows, terminals.data(), where.Child("terminals"));
  }
  if (has_timeouts) {
    Handle d = h5::OpenDataset(file, "timeouts", where);
    h5::ReadRowsU8(d.get(), 0, rows, timeouts.data(), where.Child("timeouts"));
  }
  std::vector<EpisodeRef> refs;
  int64_t begin = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const bool end = terminals[static_cast<size_t>(i)] || timeouts[static_cast<size_t>(i)] || i == rows - 1;
    if (!end) continue;
    const int64_t length = i + 1 - begin;
    EpisodeRef ref;
    ref.file = path;
    ref.format = "d4rl";
    ref.name = "d4rl[" + std::to_string(begin) + ":" + std::to_string(i + 1) + "]";
    ref.row_begin = begin;
    ref.actions = "actions";
    ref.rewards = "rewards";
    ref.terminated = "terminals";
    ref.truncated = has_timeouts ? "timeouts" : "";
    ref.obs["observation"] = "observations";
    if (has_next) {
      ref.num_steps = length;
      ref.final_obs["observation"] = "next_observations";
      ref.final_row = i;
    } else {
      ref.num_steps = length - 1;
      ref.final_obs["observation"] = "observations";
      ref.final_row = i;
    }
    if (ref.num_steps >= 1) refs.push_back(std::move(ref));
    begin = i + 1;
  }
  return refs;
}

std::vector<EpisodeRef> IndexMinari(hid_t file, const std::string& path, Schema* file_schema) {
  const Where where{path, ""};
  Handle root = h5::OpenGroup(file, "/", where);
  std::vector<EpisodeRef> refs;
  std::string first_name;
  for (const std::string& g : NumberedLinks(root.get(), "episode_", where)) {
    EpisodeRef ref;
    ref.file = path;
    ref.format = "minari";
    ref.name = g;
    ref.actions = g + "/actions";
    ref.rewards = g + "/rewards";
    ref.terminated = g + "/terminations";
    ref.truncated = g + "/truncations";
    Schema schema;
    schema.action_dim = ActionDim(file, ref.actions, where, &ref.num_steps);
    for (const std::string& p : {ref.rewards, ref.terminated, ref.truncated}) ExpectRows(file, p, ref.num_steps, where);
    const std::string obs = g + "/observations";
    H5O_info_t object_info;
    if (!h5::LinkExists(file, obs) || H5Oget_info_by_name(file, obs.c_str(), &object_info, H5P_DEFAULT) < 0) {
      h5::Fail(ExitCode::kBadData, where.Child(obs), "missing observations");
    }
    if (object_info.type == H5O_TYPE_GROUP) {
      for (const std::string& key : ObservationKeys(file, obs, where)) ref.obs[key] = obs + "/" + key;
    } else {
      ref.obs["observation"] = obs;
    }
    for (const auto& [key, dataset] : ref.obs) {
      schema.observations[key] = SpecOf(ExpectRows(file, dataset, ref.num_steps + 1, where), where.Child(dataset));
      ref.final_obs[key] = dataset;
    }
    ref.final_row = ref.num_steps;
    if (ref.num_steps >= 1) {
      AgreeOnSchema(schema, g, where, file_schema, &first_name);
      refs.push_back(std::move(ref));
    }
  }
  return refs;
}

}  // namespace

std::vector<EpisodeRef> IndexFile(hid_t file, const std::string& path,
                                  const std::string& filter_key, DatasetFileInfo* info,
                                  Schema* schema) {
  const Where where{path, ""};
  info->path = path;
  if (const auto version = h5::ReadAttrInt64(file, kSchemaVersionAttr, where)) {
    info->format = "perpetua";
    info->schema_version = *version;
    if (*version != kSchemaVersion) {
      Fail(ExitCode::kBadData, path + ": schema version " + std::to_string(*version) +
                                   " is not supported (this build reads " +
                                   std::to_string(kSchemaVersion) + ")");
    }
    info->provenance_json = h5::ReadAttrString(file, kProvenanceAttr, where).value_or("{}");
    info->tool_config_yaml = h5::ReadAttrString(file, kToolConfigAttr, where).value_or("");
    return IndexDemos(file, path, /*ours=*/true, filter_key, info, schema);
  }
  if (h5::LinkExists(file, "data")) {
    info->format = "robomimic";
    return IndexDemos(file, path, /*ours=*/false, filter_key, info, schema);
  }
  if (!filter_key.empty()) {
    Fail(ExitCode::kBadData, path + ": filter key '" + filter_key +
                                 "' given, but only robomimic-layout files have filter keys");
  }
  if (h5::LinkExists(file, "observations")) {
    info->format = "d4rl";
    return IndexD4rl(file, path, schema);
  }
  Handle root = h5::OpenGroup(file, "/", where);
  for (const std::string& name : h5::ListLinks(root.get(), where)) {
    if (name.compare(0, 8, "episode_") == 0) {
      info->format = "minari";
      return IndexMinari(file, path, schema);
    }
  }
  Fail(ExitCode::kBadData, path + ": unrecognised layout (expected a 'data' group (Perpetua, "
                                  "robomimic), D4RL 'observations' or Minari 'episode_<id>' groups)");
}

}  // namespace perpetua
