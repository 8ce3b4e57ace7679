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

#include "common/file_lock.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"
#include "data/hdf5_io.h"
#include "data/shard_format.h"

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

// Parses "s<seq>-e<k>.h5"; false if the name is not a staged episode.
bool ParseStagedName(const std::string& name, int64_t* seq, int64_t* k) {
  long long s = 0, e = 0;
  char tail[8] = {0};
  if (std::sscanf(name.c_str(), "s%lld-e%lld%7s", &s, &e, tail) != 3) return false;
  if (std::string(tail) != ".h5") return false;
  *seq = s;
  *k = e;
  return true;
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
                            bool fsync) {
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
  if (fsync) {
    FsyncPath(tmp_path);
    RenameDurably(tmp_path, shard_path);
  } else if (std::rename(tmp_path.c_str(), shard_path.c_str()) != 0) {
    Fail(ExitCode::kIoError, shard_path + ": cannot rename " + tmp_path + ": " + std::strerror(errno));
  }
  for (const std::string& staged : staged_files) RemoveOrFail(staged);
  return total;
}

RecoveryReport RecoverDataset(const std::string& dir) {
  RecoveryReport report;
  if (!IsDirectory(dir)) Fail(ExitCode::kIoError, dir + ": not a directory");
  const std::string staging_root = dir + "/" + kStagingDirName;
  if (!IsDirectory(staging_root)) return report;
  std::error_code ec;
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(staging_root, ec)) {
    if (entry.is_directory()) folders.push_back(entry.path().filename().string());
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
    FileLock lock = FileLock::TryLock(folder + "/lock", /*create=*/false);
    if (!lock.held()) {
      if (IsRegularFile(folder + "/lock")) ++report.live_writers;  // held: a live writer
      continue;
    }
    if (unborn) {
      // Its writer died after locking, before its first episode.
      fs::remove_all(folder, ec);
      continue;
    }
    std::map<int64_t, std::vector<std::pair<int64_t, std::string>>> by_shard;
    std::vector<std::string> leftovers;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      const std::string name = entry.path().filename().string();
      int64_t seq = 0, k = 0;
      if (ParseStagedName(name, &seq, &k)) {
        by_shard[seq].emplace_back(k, entry.path().string());
      } else if (name != "lock") {
        leftovers.push_back(entry.path().string());  // *.tmp: never complete
      }
    }
    bool clean = true;
    for (auto& [seq, staged] : by_shard) {
      std::sort(staged.begin(), staged.end());
      std::vector<std::string> files;
      for (const auto& item : staged) files.push_back(item.second);
      const std::string shard = ShardPath(dir, token, seq);
      if (IsRegularFile(shard)) {
        for (const auto& f : files) RemoveOrFail(f);
        report.duplicates_removed += static_cast<int64_t>(files.size());
        continue;
      }
      // Keep only readable staged files; a file that does not open is reported, never dropped.
      std::vector<std::string> readable;
      for (const auto& f : files) {
        try {
          h5::OpenFileReadOnly(f);
          readable.push_back(f);
        } catch (const Error& e) {
          report.problems.push_back(e.what());
          clean = false;
        }
      }
      if (readable.empty()) continue;
      MergeStagedEpisodes(readable, shard, folder + "/shard.h5.tmp", /*fsync=*/true);
      report.shards_written.push_back(shard);
      report.episodes_recovered += static_cast<int64_t>(readable.size());
    }
    for (const auto& f : leftovers) RemoveOrFail(f);
    if (clean) {
      RemoveOrFail(folder + "/lock");
      if (::rmdir(folder.c_str()) != 0 && errno != ENOENT) {
        Fail(ExitCode::kIoError, folder + ": cannot remove: " + std::strerror(errno));
      }
    }
  }
  return report;
}

}  // namespace perpetua
