#include "data/shard_feed.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/log.h"

namespace perpetua {

ShardFeed::ShardFeed(ShardSink sink, int fd) : sink_(std::move(sink)), fd_(fd) {
  thread_ = std::thread([this] { Run(); });
}

ShardFeed::~ShardFeed() {
  stop_ = true;
  thread_.join();
}

std::vector<std::string> ShardFeed::rejected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rejected_;
}

void ShardFeed::HandleLine(const std::string& raw) {
  std::string line = raw;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return;
  try {
    if (sink_(line)) ++added_;
  } catch (const std::exception& e) {  // Error, or e.g. bad_alloc: a thread must not let it escape
    const std::string reason = dynamic_cast<const Error*>(&e) ? e.what() : line + ": " + e.what();
    LogWarning("online shard skipped: " + reason);
    std::lock_guard<std::mutex> lock(mutex_);
    rejected_.push_back(reason);
  }
}

void ShardFeed::Run() {
  std::string pending;
  char buffer[4096];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, /*timeout_ms=*/100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (ready < 0) break;
      continue;
    }
    const ssize_t n = ::read(fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file (or an unreadable descriptor)
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      HandleLine(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  if (!stop_) {
    HandleLine(pending);  // a last line without a newline
    LogInfo("online stream closed after " + std::to_string(added_.load()) + " shard(s)");
  }
  finished_ = true;
}

}  // namespace perpetua
