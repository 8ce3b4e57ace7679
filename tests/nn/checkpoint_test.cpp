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
  CHECK(ErrorOf([&] { ReadCheckpoint(dir / "missing.ckpt"); }, &code) == dir / "missing.ckpt" + ": cannot open: No such file or directory");
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

TEST_CASE("an unverified metadata length is bounded by the file size") {
  testing::TempDir dir;
  std::string bytes = SerializeCheckpoint(Example());
  for (int i = 0; i < 8; ++i) bytes[12 + i] = static_cast<char>(i == 3 ? 0x40 : 0);  // 1 GiB, little-endian
  testing::WriteFile(dir / "long.ckpt", bytes);
  ExitCode code = ExitCode::kOk;
  CHECK(ErrorOf([&] { ReadCheckpointId(dir / "long.ckpt"); }, &code) ==
        dir / "long.ckpt" + ": truncated checkpoint (metadata length 1073741824 exceeds the file's " +
            std::to_string(bytes.size()) + " bytes)");
  CHECK(code == ExitCode::kBadData);
}

TEST_CASE("metadata nested too deep is refused even behind a valid hash") {
  CheckpointContents c = Example();
  nlohmann::json deep = 1;
  for (int i = 0; i < 100; ++i) deep = nlohmann::json::array({std::move(deep)});
  c.metadata["deep"] = std::move(deep);
  ExitCode code = ExitCode::kOk;
  CHECK(ErrorOf([&] { ParseCheckpoint(SerializeCheckpoint(c), "x.ckpt"); }, &code) ==
        "x.ckpt: checkpoint metadata: JSON nested deeper than 64 levels");
  CHECK(code == ExitCode::kBadData);
}

TEST_CASE("typed metadata access refuses wrong types and out-of-range numbers") {
  const nlohmann::json m = {{"step", 7},   {"half", 1.5},  {"name", "x"},          {"big", int64_t{1} << 40},
                            {"neg", -1},   {"list", {1, 2}}, {"mixed", {1, "two"}}, {"none", nullptr}};
  ExitCode code = ExitCode::kOk;
  CHECK(MetadataField<int>(m, "step", "c") == 7);
  CHECK(MetadataValue<int>(m, "absent", 5, "c") == 5);
  CHECK(MetadataValue<int>(m, "none", 5, "c") == 5);
  CHECK(MetadataField<double>(m, "step", "c") == 7.0);
  CHECK(MetadataField<std::vector<int>>(m, "list", "c") == std::vector<int>{1, 2});
  const std::string wrong = "c: checkpoint field '";
  CHECK(ErrorOf([&] { MetadataField<int>(m, "half", "c"); }, &code) == wrong + "half' has the wrong type");
  CHECK(code == ExitCode::kBadData);
  CHECK(ErrorOf([&] { MetadataField<int>(m, "name", "c"); }, &code) == wrong + "name' has the wrong type");
  CHECK(ErrorOf([&] { MetadataField<int>(m, "big", "c"); }, &code) == wrong + "big' has the wrong type");
  CHECK(ErrorOf([&] { MetadataField<uint64_t>(m, "neg", "c"); }, &code) == wrong + "neg' has the wrong type");
  CHECK(ErrorOf([&] { MetadataField<std::vector<int>>(m, "mixed", "c"); }, &code) == wrong + "mixed' has the wrong type");
  CHECK(ErrorOf([&] { MetadataField<std::string>(m, "absent", "c"); }, &code) == "c: checkpoint lacks 'absent'");
  CHECK(ErrorOf([&] { MetadataField<int>(m["name"], "x", "c"); }, &code) ==
        "c: checkpoint metadata: the object holding 'x' is not a JSON object");
}

}  // namespace
}  // namespace perpetua
