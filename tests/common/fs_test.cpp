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

}  // namespace perpetua
