#include "data/dataset_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/clock.h"
#include "common/file_lock.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/dataset_recovery.h"
#include "data/episode_io.h"
#include "data/hdf5_io.h"
#include "data/shard_format.h"
#include "perpetua/version.h"

namespace perpetua {
namespace {

using h5::Handle;
using h5::Where;

std::string HostName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "unknown";
  return host;
}


void CheckConfig(const DatasetWriterConfig& c) {
  if (c.episodes_per_shard < 1) {
    Fail(ExitCode::kUsage, "dataset.episodes_per_shard must be >= 1, got " +
                               std::to_string(c.episodes_per_shard));
  }
  if (c.compression_level < 0 || c.compression_level > 9) {
    Fail(ExitCode::kUsage, "dataset.compression_level must be in 0..9, got " +
                               std::to_string(c.compression_level));
  }
  if (c.sync != "episode" && c.sync != "shard" && c.sync != "none") {
    Fail(ExitCode::kUsage, "dataset.sync must be 'episode', 'shard' or 'none', got '" + c.sync + "'");
  }
  if (!(c.valid_fraction >= 0.0 && c.valid_fraction <= 1.0)) {
    Fail(ExitCode::kUsage, "dataset.valid_fraction must be in [0, 1], got " +
                               std::to_string(c.valid_fraction));
  }
}

}  // namespace

struct DatasetWriter::Impl {
  std::string dir;
  WriterOptions options;
  std::string token;
  std::string staging;          // DIR/.staging/<token>
  FileLock lock;                // held on staging/lock while this writer lives
  std::string provenance_json;  // written into every file
  std::optional<Schema> schema; // of the first episode
  int64_t seq = 0;              // current shard number
  std::vector<std::string> staged;  // staged files of shard `seq`
  int64_t added = 0;
  bool closed = false;
  std::vector<std::string> recovered;

  // Writes one episode as a complete one-episode file at `path` (via path.tmp).
  void StageEpisode(const Episode& episode, const std::string& path) {
    const std::string tmp = path + ".tmp";
    const Where where{tmp, ""};
    {
      Handle file = h5::CreateFile(tmp);
      h5::WriteAttrInt64(file.get(), kSchemaVersionAttr, kSchemaVersion, where);
      h5::WriteAttrString(file.get(), kProvenanceAttr, provenance_json, where);
      h5::WriteAttrString(file.get(), kToolConfigAttr, options.tool_config_yaml, where);
      h5::WriteAttrDouble(file.get(), "perpetua_valid_fraction", options.config.valid_fraction,
                          where);
      Handle data = h5::CreateGroup(file.get(), "data", where);
      h5::WriteAttrInt64(data.get(), "total", episode.num_steps(), where.Child("data"));
      h5::WriteAttrString(data.get(), "env_args", options.env_args.dump(), where.Child("data"));
      h5::WriteAttrString(data.get(), kEnvSpecAttr, options.env_spec.dump(), where.Child("data"));
      EpisodeWriteOptions write_options;
      write_options.compression_level = options.config.compression_level;
      write_options.store_next_obs = options.config.store_next_obs;
      WriteEpisodeGroup(data.get(), "demo_0", episode, write_options, where.Child("data"));
      data.Reset();
      h5::CloseFile(file, tmp);
    }
    if (options.config.sync == "episode") FsyncPath(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      Fail(ExitCode::kIoError, path + ": cannot rename " + tmp + ": " + std::strerror(errno));
    }
    if (options.config.sync == "episode") FsyncPath(staging);
  }

  std::string FlushShard() {
    if (staged.empty()) return "";
    const std::string shard = ShardPath(dir, token, seq);
    MergeStagedEpisodes(staged, shard, staging + "/shard.h5.tmp", options.config.sync != "none");
    staged.clear();
    ++seq;
    return shard;
  }
};

DatasetWriter::DatasetWriter(const std::string& dir, WriterOptions options)
    : impl_(std::make_unique<Impl>()) {
  h5::InitThread();
  CheckConfig(options.config);
  if (!options.env_args.is_object()) Fail(ExitCode::kUsage, "dataset env_args must be a JSON object");
  Impl& s = *impl_;
  s.dir = dir;
  s.options = std::move(options);
  EnsureWritableDirectory(dir);
  if (s.options.config.recover_orphans) {
    const RecoveryReport report = RecoverDataset(dir);
    s.recovered = report.shards_written;
    for (const auto& shard : report.shards_written) LogInfo("recovered " + shard);
  }
  // Born under "<token>.new" and renamed once locked, so that recovery never
  // mistakes a folder being created for a dead writer's.
  s.token = UniqueToken();
  const std::string root = dir + "/" + kStagingDirName;
  const std::string unborn = root + "/" + s.token + ".new";
  s.staging = root + "/" + s.token;
  // The lock file, too, gets its name only once locked: a "lock" that can be
  // locked always means a dead writer.
  EnsureWritableDirectory(unborn);
  const std::string lock = unborn + "/lock";
  s.lock = FileLock::TryLock(lock + ".tmp", /*create=*/true);
  if (!s.lock.held()) Fail(ExitCode::kIoError, lock + ".tmp: cannot lock: held by another process");
  RenameDurably(lock + ".tmp", lock);
  RenameDurably(unborn, s.staging);
  nlohmann::json provenance = {
      {"tool", s.options.tool_name},       {"perpetua_version", PERPETUA_VERSION},
      {"host", HostName()},                {"pid", static_cast<int64_t>(::getpid())},
      {"writer_token", s.token},           {"created_unix", UnixSeconds()},
      {"hdf5_version", H5_VERS_INFO}};
  s.provenance_json = provenance.dump();
}

DatasetWriter::~DatasetWriter() {
  if (!impl_ || impl_->closed) return;
  try {
    Close();
  } catch (const Error& e) {
    LogWarning(std::string("closing the dataset writer failed (staged episodes stay "
                           "recoverable with rl-data recover): ") + e.what());
  }
}

std::string DatasetWriter::Add(const Episode& episode) {
  Impl& s = *impl_;
  h5::InitThread();
  if (s.closed) Fail(ExitCode::kUsage, s.dir + ": dataset writer already closed");
  ValidateEpisode(episode, s.schema ? &*s.schema : nullptr,
                  s.dir + ": episode " + std::to_string(s.added));
  if (!s.schema) s.schema = SchemaOf(episode);
  const std::string path =
      s.staging + "/" + StagedEpisodeName(s.seq, static_cast<int64_t>(s.staged.size()));
  s.StageEpisode(episode, path);
  s.staged.push_back(path);
  ++s.added;
  if (static_cast<int>(s.staged.size()) >= s.options.config.episodes_per_shard) {
    return s.FlushShard();
  }
  return "";
}

std::vector<std::string> DatasetWriter::Close() {
  Impl& s = *impl_;
  if (s.closed) return {};
  h5::InitThread();
  std::vector<std::string> shards;
  const std::string shard = s.FlushShard();
  if (!shard.empty()) shards.push_back(shard);
  s.closed = true;
  // Nothing is staged any more: the folder can go. Lock released last.
  ::unlink((s.staging + "/lock").c_str());
  if (::rmdir(s.staging.c_str()) != 0) {
    const int err = errno;
    s.lock.Release();
    Fail(ExitCode::kIoError, s.staging + ": cannot remove: " + std::strerror(err));
  }
  s.lock.Release();
  return shards;
}

const std::string& DatasetWriter::dir() const { return impl_->dir; }
const std::string& DatasetWriter::token() const { return impl_->token; }
const std::vector<std::string>& DatasetWriter::recovered_shards() const {
  return impl_->recovered;
}
int64_t DatasetWriter::episodes_added() const { return impl_->added; }
int64_t DatasetWriter::episodes_staged() const {
  return static_cast<int64_t>(impl_->staged.size());
}

}  // namespace perpetua
