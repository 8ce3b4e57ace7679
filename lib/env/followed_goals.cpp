#include "env/followed_goals.h"

#include <mutex>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

namespace perpetua {
namespace {

class Followed : public GoalSupply {
 public:
  Followed(std::string path, std::string source, std::function<std::shared_ptr<const GoalImages>()> load)
      : path_(std::move(path)), source_(std::move(source)), load_(std::move(load)) {
    stamp_ = StampOf(path_);
    goals_ = load_();
  }
  std::shared_ptr<const GoalImages> Current() override {
    std::lock_guard<std::mutex> lock(mutex_);
    const FileStamp stamp = StampOf(path_);
    if (stamp == stamp_) return goals_;
    stamp_ = stamp;
    try {
      goals_ = load_();
    } catch (const Error& e) {
      // The writer may be between writes, or wrote something bad: the next change is tried again.
      LogWarning("--goals: " + std::string(e.what()) + "; keeping the goals from before");
    }
    return goals_;
  }
  const std::string& source() const override { return source_; }

 private:
  std::string path_, source_;
  std::function<std::shared_ptr<const GoalImages>()> load_;
  std::mutex mutex_;
  FileStamp stamp_;
  std::shared_ptr<const GoalImages> goals_;
};

}  // namespace

std::shared_ptr<GoalSupply> FollowedGoals(std::string path, std::string source,
                                          std::function<std::shared_ptr<const GoalImages>()> load) {
  return std::make_shared<Followed>(std::move(path), std::move(source), std::move(load));
}

}  // namespace perpetua
