#include "common/fs.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/test_support.h"

namespace perpetua {
using testing::TempDir;

TEST_CASE("atomic write replaces content and leaves no temporary file") {
  TempDir dir;
  const std::string path = dir / "file.txt";
  WriteFileAtomic(path, "first");
  WriteFileAtomic(path, "second");
  CHECK(testing::ReadFile(path) == "second");
  CHECK(testing::ListFiles(dir.path()) == std::vector<std::string>{"file.txt"});
}

TEST_CASE("writes into a read-only directory fail with an io error naming the path") {
  if (::geteuid() == 0) {
    // root ignores directory permissions; check a missing parent instead.
    TempDir dir;
    CHECK_THROWS_AS(WriteFileAtomic(dir / "missing/file", "x"), Error);
    return;
  }
  TempDir dir;
  ::chmod(dir.path().c_str(), 0500);
  try {
    WriteFileAtomic(dir / "file", "x");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kIoError);
    CHECK(std::string(e.what()).find(dir.path()) != std::string::npos);
  }
}

TEST_CASE("unique tokens differ between calls") {
  CHECK(UniqueToken() != UniqueToken());
}

TEST_CASE("EnsureWritableDirectory creates parents and rejects files") {
  TempDir dir;
  EnsureWritableDirectory(dir / "a/b/c");
  CHECK(IsDirectory(dir / "a/b/c"));
  testing::WriteFile(dir / "plain", "x");
  CHECK_THROWS_AS(EnsureWritableDirectory(dir / "plain"), Error);
}

namespace {

std::string OpenError(const std::string& path, uint64_t max_bytes = RegularFile::kNoLimit) {
  try {
    RegularFile::Open(path, ExitCode::kBadData, max_bytes);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kBadData);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("RegularFile refuses FIFOs and devices without blocking, and large files") {
  TempDir dir;
  const std::string fifo = dir / "shard-x.h5";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(OpenError(fifo) == fifo + ": not a regular file (a FIFO)");  // no writer: would block forever
  CHECK(OpenError("/dev/zero") == "/dev/zero: not a regular file (a character device)");
  CHECK(OpenError(dir.path()) == dir.path() + ": not a regular file (a directory)");
  CHECK(OpenError(dir / "missing") == dir / "missing" + ": cannot open: No such file or directory");
  REQUIRE(::symlink((dir / "loop").c_str(), (dir / "loop").c_str()) == 0);
  CHECK(OpenError(dir / "loop") == dir / "loop" + ": cannot open: too many levels of symbolic links");
  CHECK_THROWS_AS(ReadFileOrFail(fifo, ExitCode::kUsage), Error);

  testing::WriteFile(dir / "file", "0123456789");
  CHECK(OpenError(dir / "file", 9) == dir / "file" + ": is 10 bytes, more than the limit of 9");
  const RegularFile file = RegularFile::Open(dir / "file", ExitCode::kBadData, 10);
  CHECK(file.size() == 10);
  CHECK(file.ReadAll() == "0123456789");
  CHECK(file.ReadAt(3, 4) == "3456");
  CHECK_THROWS_WITH_AS(file.ReadAt(8, 4), (dir / "file" + ": ends before byte 12 (10 bytes)").c_str(), Error);
  CHECK(testing::ReadFile(file.ProcPath()) == "0123456789");  // the same open file, by name
}

}  // namespace perpetua
