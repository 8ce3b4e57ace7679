// The checkpoint container: round trip, cheap metadata reads, and every way
// a file can be damaged is refused with Error(kBadData) naming the file.
#include "nn/checkpoint.h"

#include <doctest/doctest.h>

#include "common/error.h"
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

std::string ErrorOf(const std::function<void()>& fn, ExitCode* code) {
  try {
    fn();
  } catch (const Error& e) {
    *code = e.code();
    return e.what();
  }
  return "";
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
    ExitCode code = ExitCode::kOk;
    const std::string message = ErrorOf([&] { ParseCheckpoint(bytes.substr(0, cut), "f.ckpt"); }, &code);
    CAPTURE(cut);
    CHECK(code == ExitCode::kBadData);
    CHECK(message.rfind("f.ckpt: ", 0) == 0);
  }
  for (size_t i = 0; i < bytes.size(); i += 13) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    ExitCode code = ExitCode::kOk;
    ErrorOf([&] { ParseCheckpoint(damaged, "f.ckpt"); }, &code);
    CAPTURE(i);
    CHECK(code == ExitCode::kBadData);
  }
  ExitCode code = ExitCode::kOk;
  CHECK(ErrorOf([&] { ParseCheckpoint(bytes + "z", "f.ckpt"); }, &code) ==
        "f.ckpt: checkpoint has 1 unexpected trailing bytes");
}

TEST_CASE("checkpoint read errors name the file") {
  testing::TempDir dir;
  ExitCode code = ExitCode::kOk;
  CHECK(ErrorOf([&] { ReadCheckpoint(dir / "missing.ckpt"); }, &code) == dir / "missing.ckpt" + ": no such checkpoint file");
  CHECK(code == ExitCode::kBadData);
  testing::WriteFile(dir / "text.ckpt", "hello, this is not a checkpoint");
  CHECK(ErrorOf([&] { ReadCheckpointId(dir / "text.ckpt"); }, &code) ==
        dir / "text.ckpt" + ": not a Perpetua checkpoint (bad magic bytes)");
  const std::string bytes = SerializeCheckpoint(Example());
  testing::WriteFile(dir / "cut.ckpt", bytes.substr(0, bytes.size() - 3));
  CHECK(ReadCheckpointId(dir / "cut.ckpt") == "run-7");  // metadata intact: the id still reads
  CHECK(ErrorOf([&] { ReadCheckpoint(dir / "cut.ckpt"); }, &code) ==
        dir / "cut.ckpt" + ": truncated checkpoint (ends inside the integrity hash)");
}

}  // namespace
}  // namespace perpetua
