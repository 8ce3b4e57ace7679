// FileLock: one holder at a time, released on destruction, Release() and death.
#include "common/file_lock.h"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "common/fs.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

TEST_CASE("a file lock has one holder at a time") {
  testing::TempDir dir;
  const std::string path = dir / "lock";
  CHECK_FALSE(FileLock::TryLock(path, /*create=*/false).held());  // missing file, not created
  CHECK_FALSE(IsRegularFile(path));
  FileLock first = FileLock::TryLock(path, /*create=*/true);
  REQUIRE(first.held());
  CHECK_FALSE(FileLock::TryLock(path, /*create=*/false).held());
  CHECK_FALSE(FileLock::TryLock(path, /*create=*/true).held());
  FileLock moved = std::move(first);
  CHECK_FALSE(first.held());
  CHECK(moved.held());
  CHECK_FALSE(FileLock::TryLock(path, false).held());  // moving keeps the lock
  moved.Release();
  CHECK_FALSE(moved.held());
  {
    FileLock again = FileLock::TryLock(path, false);
    CHECK(again.held());
  }
  CHECK(FileLock::TryLock(path, false).held());  // released by the destructor
}

TEST_CASE("a dead holder's lock can be taken and an unopenable path is an io error") {
  testing::TempDir dir;
  const std::string path = dir / "lock";
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    FileLock held = FileLock::TryLock(path, true);
    const char byte = held.held() ? 1 : 0;
    (void)!::write(ready[1], &byte, 1);
    ::pause();  // until SIGKILL
    ::_exit(0);
  }
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  REQUIRE(byte == 1);
  CHECK_FALSE(FileLock::TryLock(path, false).held());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(FileLock::TryLock(path, false).held());
  ::close(ready[0]);
  ::close(ready[1]);
  testing::ExpectError([&] { FileLock::TryLock(dir / "missing/lock", true); }, ExitCode::kIoError,
                       dir / "missing/lock" + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace perpetua
