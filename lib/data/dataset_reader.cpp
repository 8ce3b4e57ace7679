#include "data/dataset_reader.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/fs.h"
#include "common/signals.h"
#include "data/shard_format.h"

namespace perpetua {
namespace {

// One name per file however it is spelled ("data/x.h5", "./data//x.h5", a symlink).
std::string FileKey(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
  if (!ec) return canonical.string();
  return std::filesystem::absolute(path).lexically_normal().string();
}

// Open HDF5 files kept by a reader (one descriptor each; well under the usual 1024 limit).
constexpr size_t kMaxOpenFiles = 256;

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

std::string AccessProblem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return "not a regular file or directory";
  return errno == ENOENT ? "no such file or directory" : std::string("cannot access: ") + std::strerror(errno);
}

namespace {

// The *.h5 / *.hdf5 files of `dir` that are not shards (sorted; none if unlistable).
std::vector<std::string> ListHdf5Files(const std::string& dir) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return files;
  while (const dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    const auto ends = [&](const std::string& suffix) {
      return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (name.rfind("shard-", 0) != 0 && (ends(".h5") || ends(".hdf5")) && IsRegularFile(dir + "/" + name)) {
      files.push_back(dir + "/" + name);
    }
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

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


DatasetReader::DatasetReader(const std::vector<std::string>& paths, bool allow_empty,
                             const Schema* expected, std::string filter_key, ShardSubset subset)
    : filter_key_(std::move(filter_key)), subset_(subset) {
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
        // A folder of foreign files (robomimic's demo.hdf5, ...): they are read when named.
        const std::vector<std::string> others = ListHdf5Files(path);
        Fail(ExitCode::kBadData,
             path + ": no shards (no complete shard-*.h5 file)" +
                 (others.empty() ? std::string()
                                 : "; it holds " + std::to_string(others.size()) +
                                       " other HDF5 file(s): give a file by its path, e.g. --data " + others.front()));
      }
      for (const std::string& shard : shards) {
        if (!subset_.Keeps(shard)) continue;
        // Opening a large dataset takes a while: a SIGINT/SIGTERM stops it.
        if (StopRequested()) Fail(ExitCode::kInterrupted, path + ": interrupted while opening the dataset");
        AddFile(shard);
      }
    } else if (IsRegularFile(path)) {
      AddFile(path);
    } else {
      Fail(ExitCode::kUsage, path + ": " + AccessProblem(path));
    }
  }
}

DatasetReader::~DatasetReader() = default;

hid_t DatasetReader::FileHandle(const std::string& path) {
  auto found = open_index_.find(path);
  if (found != open_index_.end()) {
    open_files_.splice(open_files_.begin(), open_files_, found->second);
    return open_files_.front().second.get();
  }
  open_files_.emplace_front(path, h5::OpenFileReadOnly(path));
  open_index_[path] = open_files_.begin();
  if (open_files_.size() > kMaxOpenFiles) {
    open_index_.erase(open_files_.back().first);
    open_files_.pop_back();
  }
  return open_files_.front().second.get();
}

size_t DatasetReader::AddFile(const std::string& path) {
  h5::InitThread();
  const std::string key = FileKey(path);
  if (file_index_.count(key)) return 0;
  DatasetFileInfo info;
  const hid_t file = FileHandle(path);
  Schema schema;
  std::vector<EpisodeRef> refs = IndexFile(file, path, filter_key_, &info, &schema);
  if (!refs.empty()) {
    if (!has_schema_) {
      schema_ = schema;
      schema_source_ = path;
      has_schema_ = true;
    } else if (schema != schema_) {
      Fail(ExitCode::kBadData, path + ": " + refs.front().name + ": " +
                                   schema.DifferenceFrom(schema_) + " (as in " + schema_source_ + ")");
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
  file_index_[key] = files_.size();
  files_.push_back(std::move(info));
  return refs.size();
}

std::vector<std::string> DatasetReader::Refresh() {
  std::vector<std::string> added;
  for (const std::string& dir : directories_) {
    for (const std::string& shard : ListShards(dir)) {
      if (!subset_.Keeps(shard) || file_index_.count(FileKey(shard))) continue;
      AddFile(shard);
      added.push_back(shard);
    }
  }
  return added;
}

void DatasetReader::DropEpisodesFrom(size_t first) {
  while (!files_.empty() && files_.back().first_episode >= first) {
    num_transitions_ -= files_.back().num_transitions;
    file_index_.erase(FileKey(files_.back().path));
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

std::optional<std::string> ReadDeclaredEnvSpec(const std::string& path) {
  h5::Handle file = h5::OpenFileReadOnly(path);
  const h5::Where where{path, ""};
  if (!h5::LinkExists(file.get(), "data")) return std::nullopt;
  h5::Handle data = h5::OpenGroup(file.get(), "data", where);
  return h5::ReadAttrString(data.get(), kEnvSpecAttr, where.Child("data"));
}

}  // namespace perpetua
