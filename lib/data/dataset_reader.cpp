#include "data/dataset_reader.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fs.h"
#include "data/shard_format.h"

namespace perpetua {
namespace {

using h5::Handle;
using h5::Where;

constexpr size_t kMaxOpenFiles = 64;

int64_t Rows(hid_t file, const std::string& path, const Where& where) {
  Handle dataset = h5::OpenDataset(file, path, where);
  const h5::DatasetShape shape = h5::GetShape(dataset.get(), where.Child(path));
  if (shape.dims.empty()) Fail(ExitCode::kBadData, where.Child(path).str() + ": scalar dataset where rows were expected");
  return shape.dims[0];
}

void ExpectRows(hid_t file, const std::string& path, int64_t want, const Where& where) {
  const int64_t rows = Rows(file, path, where);
  if (rows != want) {
    Fail(ExitCode::kBadData, where.Child(path).str() + ": has " + std::to_string(rows) +
                                 " rows, expected " + std::to_string(want));
  }
}

// Sorted numerically by the integer after `prefix` ("demo_2" before "demo_10").
std::vector<std::string> NumberedLinks(hid_t group, const std::string& prefix, const Where& where) {
  std::vector<std::pair<long long, std::string>> numbered;
  for (const std::string& name : h5::ListLinks(group, where)) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    numbered.emplace_back(std::stoll(digits), name);
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
std::vector<EpisodeRef> IndexDemos(hid_t file, const std::string& path, bool ours,
                                   DatasetFileInfo* info) {
  const Where where{path, ""};
  Handle data = h5::OpenGroup(file, "data", where);
  info->env_args_json = h5::ReadAttrString(data.get(), "env_args", where.Child("data")).value_or("");
  info->env_spec_json = h5::ReadAttrString(data.get(), kEnvSpecAttr, where.Child("data")).value_or("");
  std::vector<EpisodeRef> refs;
  int64_t total = 0;
  for (const std::string& demo : NumberedLinks(data.get(), "demo_", where.Child("data"))) {
    const std::string g = "data/" + demo;
    Handle group = h5::OpenGroup(file, g, where);
    EpisodeRef ref;
    ref.file = path;
    ref.format = info->format;
    ref.name = g;
    ref.metadata_group = g;
    ref.actions = g + "/actions";
    ref.rewards = g + "/rewards";
    const int64_t rows = Rows(file, ref.actions, where);
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
      ExpectRows(file, ref.obs[key], rows, where);
      if (has_final) {
        ref.final_obs[key] = g + "/final_obs/" + key;
        ExpectRows(file, ref.final_obs[key], 1, where);
        ref.final_row = 0;
      } else if (has_next) {
        ref.final_obs[key] = g + "/next_obs/" + key;
        ExpectRows(file, ref.final_obs[key], rows, where);
        ref.final_row = rows - 1;
      } else {
        ref.final_obs[key] = ref.obs[key];
        ref.final_row = rows - 1;
      }
    }
    if (ref.num_steps >= 1) refs.push_back(std::move(ref));
  }
  const auto declared = h5::ReadAttrInt64(data.get(), "total", where.Child("data"));
  if (ours && declared && *declared != total) {
    Fail(ExitCode::kBadData, where.Child("data").str() + ": total is " + std::to_string(*declared) +
                                 " but the episodes hold " + std::to_string(total) + " steps");
  }
  return refs;
}

std::vector<EpisodeRef> IndexD4rl(hid_t file, const std::string& path) {
  const Where where{path, ""};
  const int64_t rows = Rows(file, "observations", where);
  for (const char* name : {"actions", "rewards", "terminals"}) ExpectRows(file, name, rows, where);
  const bool has_timeouts = h5::LinkExists(file, "timeouts");
  const bool has_next = h5::LinkExists(file, "next_observations");
  if (has_timeouts) ExpectRows(file, "timeouts", rows, where);
  if (has_next) ExpectRows(file, "next_observations", rows, where);
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

std::vector<EpisodeRef> IndexMinari(hid_t file, const std::string& path) {
  const Where where{path, ""};
  Handle root = h5::OpenGroup(file, "/", where);
  std::vector<EpisodeRef> refs;
  for (const std::string& g : NumberedLinks(root.get(), "episode_", where)) {
    EpisodeRef ref;
    ref.file = path;
    ref.format = "minari";
    ref.name = g;
    ref.actions = g + "/actions";
    ref.rewards = g + "/rewards";
    ref.terminated = g + "/terminations";
    ref.truncated = g + "/truncations";
    ref.num_steps = Rows(file, ref.actions, where);
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
      ExpectRows(file, dataset, ref.num_steps + 1, where);
      ref.final_obs[key] = dataset;
    }
    ref.final_row = ref.num_steps;
    if (ref.num_steps >= 1) refs.push_back(std::move(ref));
  }
  return refs;
}

}  // namespace

struct DatasetReader::Layout {
  std::string file;
  std::string format;
  bool metadata = false;  // metadata attributes on the episode's group
  std::string actions, rewards, terminated, truncated;  // relative to the prefix ("" = none)
  std::map<std::string, std::string> obs, final_obs;    // key -> relative path

  bool operator==(const Layout& o) const {
    return file == o.file && format == o.format && metadata == o.metadata &&
           actions == o.actions && rewards == o.rewards && terminated == o.terminated &&
           truncated == o.truncated && obs == o.obs && final_obs == o.final_obs;
  }
};

struct DatasetReader::CompactRef {
  std::shared_ptr<const Layout> layout;
  std::string prefix;  // "data/demo_3/", "episode_7/", "" (D4RL)
  std::string name;
  int64_t num_steps = 0;
  int64_t row_begin = 0;
  int64_t final_row = 0;
};

namespace {

// `path` without `prefix` (which it must start with; "" stays "").
std::string Relative(const std::string& path, const std::string& prefix) {
  if (path.empty()) return path;
  PERPETUA_CHECK(path.compare(0, prefix.size(), prefix) == 0);
  return path.substr(prefix.size());
}

}  // namespace

size_t DatasetReader::num_episodes() const { return episodes_.size(); }

EpisodeRef DatasetReader::episode(size_t i) const {
  const CompactRef& c = episodes_.at(i);
  const Layout& l = *c.layout;
  EpisodeRef ref;
  ref.file = l.file;
  ref.format = l.format;
  ref.name = c.name;
  if (l.metadata) ref.metadata_group = c.prefix.substr(0, c.prefix.size() - 1);
  ref.num_steps = c.num_steps;
  ref.row_begin = c.row_begin;
  ref.final_row = c.final_row;
  ref.actions = c.prefix + l.actions;
  ref.rewards = c.prefix + l.rewards;
  ref.terminated = c.prefix + l.terminated;
  ref.truncated = l.truncated.empty() ? "" : c.prefix + l.truncated;
  for (const auto& [key, path] : l.obs) ref.obs[key] = c.prefix + path;
  for (const auto& [key, path] : l.final_obs) ref.final_obs[key] = c.prefix + path;
  return ref;
}

std::vector<std::string> ListShards(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) Fail(ExitCode::kBadData, dir + ": cannot list directory: " + std::strerror(errno));
  std::vector<std::string> shards;
  const std::string prefix = kShardPrefix, suffix = kShardSuffix;
  while (dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() > prefix.size() + suffix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      shards.push_back(dir + "/" + name);
    }
  }
  ::closedir(d);
  std::sort(shards.begin(), shards.end());
  return shards;
}

std::vector<EpisodeRef> IndexFile(hid_t file, const std::string& path, DatasetFileInfo* info) {
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
    return IndexDemos(file, path, /*ours=*/true, info);
  }
  if (h5::LinkExists(file, "data")) {
    info->format = "robomimic";
    return IndexDemos(file, path, /*ours=*/false, info);
  }
  if (h5::LinkExists(file, "observations")) {
    info->format = "d4rl";
    return IndexD4rl(file, path);
  }
  Handle root = h5::OpenGroup(file, "/", where);
  for (const std::string& name : h5::ListLinks(root.get(), where)) {
    if (name.compare(0, 8, "episode_") == 0) {
      info->format = "minari";
      return IndexMinari(file, path);
    }
  }
  Fail(ExitCode::kBadData, path + ": unrecognised layout (expected a 'data' group (Perpetua, "
                                  "robomimic), D4RL 'observations' or Minari 'episode_<id>' groups)");
}

DatasetReader::DatasetReader(const std::vector<std::string>& paths, bool allow_empty,
                             const Schema* expected) {
  h5::InitThread();
  if (expected != nullptr) {
    schema_ = *expected;
    schema_source_ = "the schema the learner expects: " + expected->Describe();
    has_schema_ = true;
  }
  if (paths.empty()) Fail(ExitCode::kUsage, "no dataset given");
  for (const std::string& path : paths) {
    if (IsDirectory(path)) {
      directories_.push_back(path);
      const std::vector<std::string> shards = ListShards(path);
      if (shards.empty() && !allow_empty) {
        Fail(ExitCode::kBadData, path + ": no shards (no complete shard-*.h5 file)");
      }
      for (const std::string& shard : shards) AddFile(shard);
    } else if (IsRegularFile(path)) {
      AddFile(path);
    } else {
      Fail(ExitCode::kUsage, path + ": no such file or directory");
    }
  }
}

DatasetReader::~DatasetReader() = default;

hid_t DatasetReader::FileHandle(const std::string& path) {
  for (auto it = open_files_.begin(); it != open_files_.end(); ++it) {
    if (it->first == path) {
      if (it != open_files_.begin()) open_files_.splice(open_files_.begin(), open_files_, it);
      return open_files_.front().second.get();
    }
  }
  open_files_.emplace_front(path, h5::OpenFileReadOnly(path));
  if (open_files_.size() > kMaxOpenFiles) open_files_.pop_back();
  return open_files_.front().second.get();
}

size_t DatasetReader::AddFile(const std::string& path) {
  h5::InitThread();
  if (file_index_.count(path)) return 0;
  DatasetFileInfo info;
  const hid_t file = FileHandle(path);
  std::vector<EpisodeRef> refs = IndexFile(file, path, &info);
  for (const EpisodeRef& ref : refs) {
    const Schema schema = SchemaOfRef(file, ref);
    if (!has_schema_) {
      schema_ = schema;
      schema_source_ = path;
      has_schema_ = true;
    } else if (schema != schema_) {
      Fail(ExitCode::kBadData, path + ": " + ref.name + ": " + schema.DifferenceFrom(schema_) +
                                   " (as in " + schema_source_ + ")");
    }
  }
  info.first_episode = episodes_.size();
  info.num_episodes = refs.size();
  std::shared_ptr<const Layout> last;
  for (const EpisodeRef& ref : refs) {
    info.num_transitions += ref.num_steps;
    CompactRef c;
    c.prefix = ref.actions.substr(0, ref.actions.rfind('/') + 1);  // "" when no '/'
    c.name = ref.name;
    c.num_steps = ref.num_steps;
    c.row_begin = ref.row_begin;
    c.final_row = ref.final_row;
    auto layout = std::make_shared<Layout>();
    layout->file = ref.file;
    layout->format = ref.format;
    layout->metadata = !ref.metadata_group.empty();
    PERPETUA_CHECK(!layout->metadata || ref.metadata_group + "/" == c.prefix);
    layout->actions = Relative(ref.actions, c.prefix);
    layout->rewards = Relative(ref.rewards, c.prefix);
    layout->terminated = Relative(ref.terminated, c.prefix);
    layout->truncated = Relative(ref.truncated, c.prefix);
    for (const auto& [key, path] : ref.obs) layout->obs[key] = Relative(path, c.prefix);
    for (const auto& [key, path] : ref.final_obs) layout->final_obs[key] = Relative(path, c.prefix);
    // Episodes of one file nearly always share one layout: keep one copy.
    if (last && *last == *layout) {
      c.layout = last;
    } else {
      c.layout = layout;
      last = layout;
    }
    episodes_.push_back(std::move(c));
  }
  num_transitions_ += info.num_transitions;
  file_index_[path] = files_.size();
  files_.push_back(std::move(info));
  return refs.size();
}

std::vector<std::string> DatasetReader::Refresh() {
  std::vector<std::string> added;
  for (const std::string& dir : directories_) {
    for (const std::string& shard : ListShards(dir)) {
      if (file_index_.count(shard)) continue;
      AddFile(shard);
      added.push_back(shard);
    }
  }
  return added;
}

void DatasetReader::DropEpisodesFrom(size_t first) {
  while (!files_.empty() && files_.back().first_episode >= first) {
    num_transitions_ -= files_.back().num_transitions;
    file_index_.erase(files_.back().path);
    files_.pop_back();
  }
  PERPETUA_CHECK(files_.empty() || files_.back().first_episode + files_.back().num_episodes == first);
  episodes_.resize(first);
}

Episode DatasetReader::ReadEpisode(size_t i) {
  h5::InitThread();
  const EpisodeRef ref = episode(i);
  return perpetua::ReadEpisode(FileHandle(ref.file), ref);
}

}  // namespace perpetua
