#include "replay/shard_watch.h"

#include <chrono>

#include "common/error.h"
#include "common/log.h"
#include "data/dataset_reader.h"

namespace perpetua {

ShardWatch::ShardWatch(std::string dir, ShardSink sink, std::set<std::string> known, double poll_seconds)
    : dir_(std::move(dir)), sink_(std::move(sink)), seen_(std::move(known)), poll_seconds_(poll_seconds) {
  thread_ = std::thread([this] { Run(); });
}

ShardWatch::~ShardWatch() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<std::string> ShardWatch::rejected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rejected_;
}

void ShardWatch::Scan() {
  std::vector<std::string> shards;
  try {
    shards = ListShards(dir_);
    listing_failed_ = false;
  } catch (const Error& e) {
    if (!listing_failed_) LogWarning(std::string("--online ") + dir_ + ": cannot list (retrying): " + e.what());
    listing_failed_ = true;
    return;
  }
  for (const std::string& path : shards) {
    if (!seen_.insert(path).second) continue;
    try {
      if (sink_(path)) ++added_;
    } catch (const Error& e) {
      LogWarning(std::string("online shard skipped: ") + e.what());
      std::lock_guard<std::mutex> lock(mutex_);
      rejected_.push_back(e.what());
    }
  }
}

void ShardWatch::Run() {
  const auto period = std::chrono::duration<double>(poll_seconds_);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    Scan();
    ++scans_;
    lock.lock();
    wake_.wait_for(lock, period, [&] { return stop_; });
  }
}

}  // namespace perpetua
