// The online sources: a watched dataset directory (--online DIR) hands each
// complete shard over exactly once, never a half-written one.
#include "replay/shard_watch.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "data/dataset_reader.h"
#include "data/dataset_writer.h"
#include "data/episode_factory.h"
#include "replay/online_source.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

// A sink that opens every shard for real (refusing unreadable ones) and records what it took.
class RecordingSink {
 public:
  ShardSink sink() {
    return [this](const std::string& path) {
      DatasetReader reader({path});  // throws Error(kBadData) for a corrupt file
      std::lock_guard<std::mutex> lock(mutex_);
      paths_.push_back(path);
      return reader.num_episodes() > 0;
    };
  }
  std::vector<std::string> paths() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return paths_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> paths_;
};

// Waits (bounded) until `watch` has completed `n` more scans.
void WaitScans(const ShardWatch& watch, int n) {
  const int64_t target = watch.scans() + n;
  for (int i = 0; i < 2000 && watch.scans() < target; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(watch.scans() >= target);
}

void AddEpisode(DatasetWriter& writer, uint64_t seed) {
  testing::EpisodeShape shape;
  shape.steps = 3;
  writer.Add(testing::MakeEpisode(seed, shape));
}

TEST_CASE("a watched directory hands over each complete shard once") {
  testing::TempDir dir;
  WriterOptions options;
  options.config.episodes_per_shard = 2;
  std::string known;
  {
    DatasetWriter before(dir.path(), options);  // a shard that is already in the buffers
    AddEpisode(before, 1);
    AddEpisode(before, 2);
    before.Close();
    known = ListShards(dir.path()).front();
  }
  RecordingSink sink;
  ShardWatch watch(dir.path(), sink.sink(), {known}, /*poll_seconds=*/0.01);
  WaitScans(watch, 2);
  CHECK(sink.paths().empty());

  DatasetWriter writer(dir.path(), options);
  AddEpisode(writer, 3);
  // A staged episode and stray files are not complete shards.
  testing::WriteFile(dir / "shard-partial.h5.tmp-1", "half");
  testing::WriteFile(dir / "notes.txt", "not a shard");
  WaitScans(watch, 3);
  CHECK(sink.paths().empty());
  AddEpisode(writer, 4);  // completes a shard
  WaitScans(watch, 3);
  REQUIRE(sink.paths().size() == 1);
  const std::string first = sink.paths()[0];
  CHECK(first != known);
  AddEpisode(writer, 5);  // staged only
  WaitScans(watch, 3);
  CHECK(sink.paths().size() == 1);
  writer.Close();  // the last, short shard
  WaitScans(watch, 3);
  REQUIRE(sink.paths().size() == 2);
  CHECK(sink.paths()[0] == first);
  CHECK(watch.added() == 2);
  CHECK(watch.rejected().empty());
  const std::vector<std::string> all = ListShards(dir.path());
  CHECK(all.size() == 3);
  for (const auto& path : sink.paths()) CHECK(std::count(all.begin(), all.end(), path) == 1);
}

TEST_CASE("a corrupt shard in a watched directory is refused once and never retried") {
  testing::TempDir dir;
  RecordingSink sink;
  ShardWatch watch(dir.path(), sink.sink(), {}, /*poll_seconds=*/0.01);
  testing::WriteFile(dir / "shard-bad.h5", "this is not HDF5");
  WaitScans(watch, 5);
  CHECK(watch.added() == 0);
  REQUIRE(watch.rejected().size() == 1);
  CHECK(watch.rejected()[0].find(dir / "shard-bad.h5") != std::string::npos);
  CHECK(sink.paths().empty());
}

TEST_CASE("--online takes '-' or an existing dataset directory") {
  testing::TempDir dir;
  OnlineSource::Validate("-");
  OnlineSource::Validate(dir.path());
  testing::ExpectError([&] { OnlineSource::Validate(dir / "missing"); }, ExitCode::kUsage,
                       "--online takes '-' (shard paths on stdin) or a dataset directory, got '" + dir / "missing" +
                           "'");
  RecordingSink sink;
  OnlineSource source(dir.path(), sink.sink(), {}, 0.01);
  CHECK(source.open());  // a watched directory never closes
  CHECK(source.where() == "in " + dir.path());
  CHECK(source.added() == 0);
}

}  // namespace
}  // namespace perpetua
