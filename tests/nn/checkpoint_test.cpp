// The checkpoint container: round trip, cheap metadata reads, and every way
// a file can be damaged is refused with Error(kBadData) naming the file.
#include "nn/checkpoint.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

CheckpointContents Example() {
  CheckpointContents c;
  c.metadata = {{"algorithm", "test"}, {"id", "run-7"}, {"step", 7}, {"seed", 3}};
  c.blobs["a"] = std::string("\0\1\2\3", 4);
  c.blobs["weights"] = std::string(1000, 'x');
  return c;
}


TEST_CASE("checkpoint round trip keeps metadata and blobs") {
  testing::TempDir dir;
  WriteCheckpoint(dir / "c.ckpt", Example());
  const CheckpointContents back = ReadCheckpoint(dir / "c.ckpt");
  CHECK(back.metadata == Example().metadata);
  CHECK(back.blobs == Example().blobs);
  CHECK(ReadCheckpointId(dir / "c.ckpt") == "run-7");
  CHECK(ReadCheckpointMetadata(dir / "c.ckpt")["step"] == 7);
  CHECK(testing::ListFiles(dir.path()) == std::vector<std::string>{"c.ckpt"});  // no temp files left
}

TEST_CASE("every truncation and every flipped byte of a checkpoint is refused") {
  const std::string bytes = SerializeCheckpoint(Example());
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    CAPTURE(cut);
    const std::string message =
        testing::ExpectError([&] { ParseCheckpoint(bytes.substr(0, cut), "f.ckpt"); }, ExitCode::kBadData);
    CHECK(message.rfind("f.ckpt: ", 0) == 0);
  }
  for (size_t i = 0; i < bytes.size(); i += 13) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    CAPTURE(i);
    testing::ExpectError([&] { ParseCheckpoint(damaged, "f.ckpt"); }, ExitCode::kBadData);
  }
  CHECK(testing::ExpectError([&] { ParseCheckpoint(bytes + "z", "f.ckpt"); }, ExitCode::kBadData) ==
        "f.ckpt: checkpoint has 1 unexpected trailing bytes");
}

TEST_CASE("checkpoint read errors name the file") {
  testing::TempDir dir;
  CHECK(testing::ExpectError([&] { ReadCheckpoint(dir / "missing.ckpt"); }, ExitCode::kBadData) ==
        dir / "missing.ckpt" + ": no such checkpoint file");
  testing::WriteFile(dir / "text.ckpt", "hello, this is not a checkpoint");
  CHECK(testing::ExpectError([&] { ReadCheckpointId(dir / "text.ckpt"); }, ExitCode::kBadData) ==
        dir / "text.ckpt" + ": not a Perpetua checkpoint (bad magic bytes)");
  const std::string bytes = SerializeCheckpoint(Example());
  testing::WriteFile(dir / "cut.ckpt", bytes.substr(0, bytes.size() - 3));
  CHECK(ReadCheckpointId(dir / "cut.ckpt") == "run-7");  // metadata intact: the id still reads
  CHECK(testing::ExpectError([&] { ReadCheckpoint(dir / "cut.ckpt"); }, ExitCode::kBadData) ==
        dir / "cut.ckpt" + ": truncated checkpoint (ends inside the integrity hash)");
}

}  // namespace
}  // namespace perpetua
