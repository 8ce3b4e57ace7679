#include "replay/online_source.h"

#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"

namespace perpetua {

void OnlineSource::Validate(const std::string& online) {
  if (online != "-" && !IsDirectory(online)) {
    Fail(ExitCode::kUsage, "--online takes '-' (shard paths on stdin) or a dataset directory, got '" + online + "'");
  }
}

OnlineSource::OnlineSource(const std::string& online, ShardSink sink, std::set<std::string> known,
                           double poll_seconds)
    : online_(online) {
  if (online == "-") {
    feed_ = std::make_unique<ShardFeed>(std::move(sink), STDIN_FILENO);
  } else {
    watch_ = std::make_unique<ShardWatch>(online, std::move(sink), std::move(known), poll_seconds);
  }
}

bool OnlineSource::open() const { return watch_ || !feed_->finished(); }

int64_t OnlineSource::added() const { return feed_ ? feed_->added() : watch_->added(); }

int64_t OnlineSource::rejected() const {
  return static_cast<int64_t>(feed_ ? feed_->rejected().size() : watch_->rejected().size());
}

std::string OnlineSource::where() const { return feed_ ? "on stdin" : "in " + online_; }

}  // namespace perpetua
