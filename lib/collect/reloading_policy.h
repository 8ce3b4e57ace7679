// Hot reload: a collector keeps acting while the trainer writes new
// checkpoints. A CheckpointWatcher (one per run, shared by the workers)
// notices when the file at a path (or the file a symlink points to) changes;
// each worker's ReloadingPolicy then loads its own copy between episodes,
// never within one. The id of the checkpoint that acted is the policy id
// recorded with every episode ("checkpoint:<id>").
//
// A new checkpoint that fails to load (corrupt, other specs, fields of the
// wrong type behind a valid hash: any exception from the loader) does not
// stop collection: the previous policy keeps acting, one warning names the
// file and the reason, and the next change of the file is tried again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/fs.h"
#include "policy/policy.h"

namespace perpetua {

class CheckpointWatcher {
 public:
  // `read_id` returns the id of the checkpoint at a path (e.g. ReadCheckpointId, nn/checkpoint.h)
  // and throws Error on an unreadable file.
  CheckpointWatcher(std::string path, std::function<std::string(const std::string&)> read_id);
  // The id now at the path. Cheap when nothing changed (one stat); reads the
  // id again only when the file's identity (device, inode, size, mtime)
  // changed. If that read fails, logs one warning and keeps the last good id.
  // Thread-safe.
  std::string CurrentId();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::function<std::string(const std::string&)> read_id_;
  std::mutex mutex_;
  FileStamp key_;
  std::string id_;
};

class ReloadingPolicy : public Policy {
 public:
  // `load` builds a fresh policy from the checkpoint now at the watched path
  // (throws Error if it cannot). `initial` acts until a change is seen; its
  // checkpoint id is `initial_id` (as CheckpointWatcher::CurrentId reports it).
  ReloadingPolicy(std::shared_ptr<CheckpointWatcher> watcher,
                  std::function<std::unique_ptr<Policy>()> load, std::unique_ptr<Policy> initial,
                  std::string initial_id);
  // Reloads if the watched id changed, then starts the episode.
  void BeginEpisode(uint64_t episode_seed) override;
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override {
    return policy_->Act(observation, info);
  }
  std::string id() const override { return policy_->id(); }
  // Successful reloads so far.
  int reloads() const { return reloads_; }

 private:
  std::shared_ptr<CheckpointWatcher> watcher_;
  std::function<std::unique_ptr<Policy>()> load_;
  std::unique_ptr<Policy> policy_;
  std::string seen_id_;  // the watcher id last acted upon (loaded or failed)
  int reloads_ = 0;
};

}  // namespace perpetua
