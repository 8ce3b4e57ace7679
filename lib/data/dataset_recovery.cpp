#include "data/dataset_recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>

#include "common/file_lock.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"
#include "data/dataset_reader.h"
#include "data/hdf5_io.h"
#include "data/shard_format.h"
#include "data/shard_verify.h"

namespace perpetua {
namespace {

namespace fs = std::filesystem;
using h5::Handle;
using h5::Where;

void CopyStringAttr(hid_t from, hid_t to, const std::string& name, const Where& from_where,
                    const Where& to_where, const std::string& fallback) {
  h5::WriteAttrString(to, name, h5::ReadAttrString(from, name, from_where).value_or(fallback),
                      to_where);
}

// True if the episode with `seed` goes to mask/valid.
bool IsValidationEpisode(uint64_t seed, double valid_fraction) {
  const double u = static_cast<double>(Mix64(seed ^ 0x5eedda7a5e7ULL) >> 11) * 0x1.0p-53;
  return u < valid_fraction;
}

void RemoveOrFail(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    Fail(ExitCode::kIoError, path + ": cannot remove: " + std::strerror(errno));
  }
}

// Parses up to 12 decimal digits at `text`; advances it. False if none or too many.
bool ParseCount(const char*& text, int64_t* value) {
  int digits = 0;
  *value = 0;
  for (; *text >= '0' && *text <= '9'; ++text, ++digits) {
    if (digits == 12) return false;
    *value = *value * 10 + (*text - '0');
  }
  return digits > 0;
}

// Parses "s<seq>-e<k>.h5"; false if the name is not a staged episode.
bool ParseStagedName(const std::string& name, int64_t* seq, int64_t* k) {
  const char* p = name.c_str();
  if (*p++ != 's' || !ParseCount(p, seq)) return false;
  if (*p++ != '-' || *p++ != 'e' || !ParseCount(p, k)) return false;
  return std::string(p) == ".h5";
}

double AgeSeconds(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0.0;
  return std::difftime(std::time(nullptr), st.st_mtime);
}

}  // namespace

std::string ShardPath(const std::string& dir, const std::string& token, int64_t seq) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "-%06lld", static_cast<long long>(seq));
  return dir + "/" + kShardPrefix + token + buffer + kShardSuffix;
}

std::string StagedEpisodeName(int64_t seq, int64_t k) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "s%06lld-e%06lld.h5", static_cast<long long>(seq),
                static_cast<long long>(k));
  return buffer;
}

int64_t MergeStagedEpisodes(const std::vector<std::string>& staged_files,
                            const std::string& shard_path, const std::string& tmp_path,
                            bool fsync, const Schema* verify_as) {
  PERPETUA_CHECK(!staged_files.empty());
  h5::InitThread();
  const Where out_where{tmp_path, ""};
  int64_t total = 0;
  {
    Handle out = h5::CreateFile(tmp_path);
    Handle out_data = h5::CreateGroup(out.get(), "data", out_where);
    Handle copy_props(H5Pcreate(H5P_OBJECT_COPY));
    std::vector<std::string> train, valid;
    for (size_t i = 0; i < staged_files.size(); ++i) {
      const std::string& staged = staged_files[i];
      const Where in_where{staged, ""};
      Handle in = h5::OpenFileReadOnly(staged);
      Handle in_data = h5::OpenGroup(in.get(), "data", in_where);
      if (i == 0) {
        // The header (provenance, config, env) comes from the first episode's file.
        h5::WriteAttrInt64(out.get(), kSchemaVersionAttr, kSchemaVersion, out_where);
        CopyStringAttr(in.get(), out.get(), kProvenanceAttr, in_where, out_where, "{}");
        CopyStringAttr(in.get(), out.get(), kToolConfigAttr, in_where, out_where, "");
        CopyStringAttr(in_data.get(), out_data.get(), "env_args", in_where.Child("data"),
                       out_where.Child("data"), "{}");
        CopyStringAttr(in_data.get(), out_data.get(), kEnvSpecAttr, in_where.Child("data"),
                       out_where.Child("data"), "{}");
      }
      const std::string name = "demo_" + std::to_string(i);
      if (H5Ocopy(in_data.get(), "demo_0", out_data.get(), name.c_str(), copy_props.get(),
                  H5P_DEFAULT) < 0) {
        h5::Fail(ExitCode::kIoError, out_where.Child("data/" + name),
                 "cannot copy episode from " + staged);
      }
      Handle demo = h5::OpenGroup(in_data.get(), "demo_0", in_where.Child("data"));
      const Where demo_where = in_where.Child("data/demo_0");
      const auto samples = h5::ReadAttrInt64(demo.get(), "num_samples", demo_where);
      if (!samples) Fail(ExitCode::kBadData, demo_where.str() + ": missing attribute num_samples");
      total += *samples;
      const uint64_t seed = h5::ReadAttrUint64(demo.get(), "seed", demo_where).value_or(0);
      const double valid_fraction =
          h5::ReadAttrDouble(in.get(), "perpetua_valid_fraction", in_where).value_or(0.0);
      (IsValidationEpisode(seed, valid_fraction) ? valid : train).push_back(name);
    }
    h5::WriteAttrInt64(out_data.get(), "total", total, out_where.Child("data"));
    Handle mask = h5::CreateGroup(out.get(), "mask", out_where);
    h5::WriteStringList(mask.get(), "train", train, out_where.Child("mask"));
    h5::WriteStringList(mask.get(), "valid", valid, out_where.Child("mask"));
    out_data.Reset();
    mask.Reset();
    copy_props.Reset();
    h5::CloseFile(out, tmp_path);
  }
  if (verify_as != nullptr) {
    try {
      VerifyPerpetuaFile(tmp_path, verify_as);
    } catch (const Error& e) {
      ::unlink(tmp_path.c_str());
      Fail(ExitCode::kIoError, shard_path + ": the merged shard does not read back: " + e.what());
    }
  }
  if (fsync) {
    FsyncPath(tmp_path);
    RenameDurably(tmp_path, shard_path);
  } else if (std::rename(tmp_path.c_str(), shard_path.c_str()) != 0) {
    Fail(ExitCode::kIoError, shard_path + ": cannot rename " + tmp_path + ": " + std::strerror(errno));
  }
  for (const std::string& staged : staged_files) RemoveOrFail(staged);
  return total;
}

std::string Quarantine(const std::string& dir, const std::string& path, const std::string& name,
                       const std::string& reason) {
  const std::string folder = dir + "/" + kQuarantineDirName;
  EnsureWritableDirectory(folder);
  const size_t dot = name.rfind('.');
  const std::string stem = dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
  const std::string ext = stem.size() == name.size() ? "" : name.substr(stem.size());
  std::string target = folder + "/" + name;
  struct stat st {};
  for (int n = 1; ::lstat(target.c_str(), &st) == 0; ++n) {
    target = folder + "/" + stem + "-" + std::to_string(n) + ext;
  }
  WriteFileAtomic(target + ".why", reason + "\n");
  if (std::rename(path.c_str(), target.c_str()) != 0) {
    Fail(ExitCode::kIoError, path + ": cannot move to " + target + ": " + std::strerror(errno));
  }
  FsyncPath(folder);
  FsyncPath(fs::path(path).parent_path().string());
  LogWarning("quarantined " + path + " as " + target + ": " + reason);
  return target + ": " + reason;
}

namespace {

// The staged episodes of one dead writer, by shard number, in order.
struct StagedFolder {
  std::map<int64_t, std::vector<std::pair<int64_t, std::string>>> by_shard;
  std::vector<std::string> temporary;  // regular "*.tmp" files: never complete
  std::vector<std::string> foreign;    // anything else (not ours, or not a regular file)
};

StagedFolder ListStagedFolder(const std::string& folder) {
  StagedFolder listed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "lock") continue;
    std::error_code status_ec;  // an entry that vanished or cannot be stat-ed is not regular
    const bool regular = entry.symlink_status(status_ec).type() == fs::file_type::regular;
    int64_t seq = 0, k = 0;
    if (regular && ParseStagedName(name, &seq, &k)) {
      listed.by_shard[seq].emplace_back(k, entry.path().string());
    } else if (regular && name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      listed.temporary.push_back(entry.path().string());
    } else {
      listed.foreign.push_back(entry.path().string());
    }
  }
  if (ec) Fail(ExitCode::kIoError, folder + ": cannot list: " + ec.message());
  for (auto& [seq, staged] : listed.by_shard) std::sort(staged.begin(), staged.end());
  return listed;
}

// Recovers shard `seq` of dead writer `token` from its staged files (see the header).
void RecoverShard(const std::string& dir, const std::string& token, int64_t seq,
                  const std::vector<std::pair<int64_t, std::string>>& staged,
                  RecoveryReport& report) {
  const std::string shard = ShardPath(dir, token, seq);
  struct stat st {};
  if (::lstat(shard.c_str(), &st) == 0) {
    try {
      VerifyPerpetuaFile(shard);  // (a directory or a symlink there does not verify)
      for (const auto& item : staged) RemoveOrFail(item.second);
      report.duplicates_removed += static_cast<int64_t>(staged.size());
      return;
    } catch (const Error& e) {
      if (e.code() != ExitCode::kBadData) throw;
      // Its staged episodes are still here: the shard is rebuilt from them.
      report.quarantined.push_back(
          Quarantine(dir, shard, fs::path(shard).filename().string(), e.what()));
    }
  }
  std::optional<Schema> schema;  // of the first staged episode that verifies
  std::vector<std::string> good;
  for (const auto& [k, path] : staged) {
    try {
      const Schema own = VerifyPerpetuaFile(path, schema ? &*schema : nullptr);
      if (!schema) schema = own;
      good.push_back(path);
    } catch (const Error& e) {
      if (e.code() != ExitCode::kBadData) throw;
      const std::string name = token + "-" + fs::path(path).filename().string();
      report.quarantined.push_back(Quarantine(dir, path, name, e.what()));
    }
  }
  if (good.empty()) return;
  MergeStagedEpisodes(good, shard, dir + "/" + kStagingDirName + "/" + token + "/shard.h5.tmp",
                      /*fsync=*/true, &*schema);
  report.shards_written.push_back(shard);
  report.episodes_recovered += static_cast<int64_t>(good.size());
}

}  // namespace

RecoveryReport RecoverDataset(const std::string& dir) {
  h5::InitThread();
  RecoveryReport report;
  if (!IsDirectory(dir)) Fail(ExitCode::kIoError, dir + ": not a directory");
  const std::string staging_root = dir + "/" + kStagingDirName;
  if (!IsDirectory(staging_root)) return report;
  std::error_code ec;
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(staging_root, ec)) {
    // Never a symlink: recovery moves and deletes files inside.
    std::error_code status_ec;
    if (entry.symlink_status(status_ec).type() == fs::file_type::directory) {
      folders.push_back(entry.path().filename().string());
    }
  }
  if (ec) Fail(ExitCode::kIoError, staging_root + ": cannot list: " + ec.message());
  std::sort(folders.begin(), folders.end());
  for (const std::string& token : folders) {
    const std::string folder = staging_root + "/" + token;
    const bool unborn = token.size() > 4 && token.compare(token.size() - 4, 4, ".new") == 0;
    if (unborn && !IsRegularFile(folder + "/lock")) {
      // Being born, or its writer died before locking: nothing can be staged
      // in it yet. Removed once clearly abandoned.
      if (AgeSeconds(folder) > 60.0) fs::remove_all(folder, ec);
      continue;
    }
    const FileLock lock = FileLock::TryLock(folder + "/lock", /*create=*/false);  // released on every path out
    if (!lock.held()) {
      if (IsRegularFile(folder + "/lock")) ++report.live_writers;  // held: a live writer
      continue;
    }
    if (unborn) {
      // Its writer died after locking, before its first episode.
      fs::remove_all(folder, ec);
      continue;
    }
    // Leftovers first: one of them may hold the name a merge writes to.
    const StagedFolder listed = ListStagedFolder(folder);
    for (const auto& f : listed.temporary) RemoveOrFail(f);
    for (const auto& f : listed.foreign) {
      report.quarantined.push_back(Quarantine(dir, f, token + "-" + fs::path(f).filename().string(),
                                              "not a staged episode of writer " + token));
    }
    for (const auto& [seq, staged] : listed.by_shard) RecoverShard(dir, token, seq, staged, report);
    RemoveOrFail(folder + "/lock");
    if (::rmdir(folder.c_str()) != 0 && errno != ENOENT) {
      Fail(ExitCode::kIoError, folder + ": cannot remove: " + std::strerror(errno));
    }
  }
  return report;
}

std::vector<std::string> QuarantineInvalidShards(const std::string& dir) {
  h5::InitThread();
  std::vector<std::string> quarantined;
  for (const std::string& shard : ListShards(dir)) {
    try {
      VerifyPerpetuaFile(shard);
    } catch (const Error& e) {
      if (e.code() != ExitCode::kBadData) throw;
      quarantined.push_back(Quarantine(dir, shard, fs::path(shard).filename().string(), e.what()));
    }
  }
  return quarantined;
}

}  // namespace perpetua
