// Hot reload logic with an in-memory loader (the end-to-end test with real
// checkpoints is in collect_e2e_test.cpp).
#include "collect/reloading_policy.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <stdexcept>

#include "common/error.h"
#include "common/fs.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

class NamedPolicy : public Policy {
 public:
  explicit NamedPolicy(std::string id) : id_(std::move(id)) {}
  std::vector<float> Act(const Observation&, const nlohmann::json&) override { return {0.0f}; }
  std::string id() const override { return "checkpoint:" + id_; }

 private:
  std::string id_;
};

// A "checkpoint" is a text file holding its id; "corrupt" fails to load.
std::string ReadId(const std::string& path) {
  const std::string text = testing::ReadFile(path);
  if (text.empty() || text == "corrupt") Fail(ExitCode::kBadData, path + ": not a checkpoint");
  return text;
}

TEST_CASE("a replaced checkpoint is picked up at the next episode and a bad one is skipped") {
  testing::TempDir dir;
  const std::string path = dir / "latest.ckpt";
  WriteFileAtomic(path, "A");
  auto watcher = std::make_shared<CheckpointWatcher>(path, ReadId);
  CHECK(watcher->CurrentId() == "A");
  int loads = 0;
  auto load = [&] {
    ++loads;
    return std::make_unique<NamedPolicy>(ReadId(path));
  };
  ReloadingPolicy policy(watcher, load, std::make_unique<NamedPolicy>("A"), "A");
  policy.BeginEpisode(1);
  CHECK(policy.id() == "checkpoint:A");
  CHECK(loads == 0);

  WriteFileAtomic(path, "B");  // a new inode: the trainer's atomic replace
  policy.BeginEpisode(2);
  CHECK(policy.id() == "checkpoint:B");
  CHECK(policy.reloads() == 1);
  policy.BeginEpisode(3);
  CHECK(loads == 1);  // unchanged file: no reload

  WriteFileAtomic(path, "corrupt");  // the watcher keeps the last good id
  policy.BeginEpisode(4);
  CHECK(watcher->CurrentId() == "B");
  CHECK(policy.id() == "checkpoint:B");

  // A symlink re-pointed to another file is a change too.
  WriteFileAtomic(dir / "c.ckpt", "C");
  ::unlink(path.c_str());
  REQUIRE(::symlink((dir / "c.ckpt").c_str(), path.c_str()) == 0);
  policy.BeginEpisode(5);
  CHECK(policy.id() == "checkpoint:C");
  CHECK(policy.reloads() == 2);
}

TEST_CASE("a checkpoint that fails to load keeps the previous policy acting") {
  testing::TempDir dir;
  const std::string path = dir / "latest.ckpt";
  WriteFileAtomic(path, "A");
  auto watcher = std::make_shared<CheckpointWatcher>(path, ReadId);
  int attempts = 0;
  auto failing_load = [&]() -> std::unique_ptr<Policy> {
    ++attempts;
    Fail(ExitCode::kBadData, path + ": written for other specs");
  };
  ReloadingPolicy policy(watcher, failing_load, std::make_unique<NamedPolicy>("A"), "A");
  WriteFileAtomic(path, "B");
  policy.BeginEpisode(1);
  CHECK(policy.id() == "checkpoint:A");
  policy.BeginEpisode(2);
  CHECK(attempts == 1);  // not retried until the file changes again
  WriteFileAtomic(path, "C");
  policy.BeginEpisode(3);
  CHECK(attempts == 2);
}

TEST_CASE("a loader failing with any exception keeps the previous policy acting") {
  testing::TempDir dir;
  const std::string path = dir / "latest.ckpt";
  WriteFileAtomic(path, "A");
  auto watcher = std::make_shared<CheckpointWatcher>(path, ReadId);
  int attempts = 0;
  auto load = [&]() -> std::unique_ptr<Policy> {
    if (++attempts == 1) throw std::runtime_error("[json.exception.type_error.302] type must be number, but is string");
    return std::make_unique<NamedPolicy>(ReadId(path));
  };
  ReloadingPolicy policy(watcher, load, std::make_unique<NamedPolicy>("A"), "A");
  WriteFileAtomic(path, "B");
  policy.BeginEpisode(1);  // was: the exception escaped and the collector exited 1
  CHECK(policy.id() == "checkpoint:A");
  WriteFileAtomic(path, "C");
  policy.BeginEpisode(2);
  CHECK(policy.id() == "checkpoint:C");
  CHECK(attempts == 2);
}

}  // namespace
}  // namespace perpetua
