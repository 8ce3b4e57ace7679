#include "collect/reloading_policy.h"

#include "common/error.h"
#include "common/log.h"

namespace perpetua {

CheckpointWatcher::CheckpointWatcher(std::string path,
                                     std::function<std::string(const std::string&)> read_id)
    : path_(std::move(path)), read_id_(std::move(read_id)) {}

std::string CheckpointWatcher::CurrentId() {
  std::lock_guard<std::mutex> lock(mutex_);
  const FileStamp key = StampOf(path_);  // follows a symlink to its target
  if (key == key_) return id_;
  key_ = key;
  try {
    id_ = read_id_(path_);
  } catch (const std::exception& e) {
    // The trainer may be between writes, or wrote something bad: keep acting.
    LogWarning(std::string("hot reload: ") + e.what() + "; keeping checkpoint " + id_);
  }
  return id_;
}

ReloadingPolicy::ReloadingPolicy(std::shared_ptr<CheckpointWatcher> watcher,
                                 std::function<std::unique_ptr<Policy>()> load,
                                 std::unique_ptr<Policy> initial, std::string initial_id)
    : watcher_(std::move(watcher)),
      load_(std::move(load)),
      policy_(std::move(initial)),
      seen_id_(std::move(initial_id)) {
  PERPETUA_CHECK(watcher_ && load_ && policy_);
}

void ReloadingPolicy::BeginEpisode(uint64_t episode_seed) {
  const std::string current = watcher_->CurrentId();
  if (current != seen_id_) {
    seen_id_ = current;
    try {
      policy_ = load_();
      ++reloads_;
    } catch (const std::exception& e) {  // whatever the file holds, the previous policy keeps acting
      LogWarning(std::string("hot reload: ") + e.what() + "; keeping " + policy_->id());
    }
  }
  policy_->BeginEpisode(episode_seed);
}

}  // namespace perpetua
