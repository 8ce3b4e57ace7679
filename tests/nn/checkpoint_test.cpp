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
        dir / "missing.ckpt" + ": cannot open: No such file or directory");
  testing::WriteFile(dir / "text.ckpt", "hello, this is not a checkpoint");
  CHECK(testing::ExpectError([&] { ReadCheckpointId(dir / "text.ckpt"); }, ExitCode::kBadData) ==
        dir / "text.ckpt" + ": not a Perpetua checkpoint (bad magic bytes)");
  const std::string bytes = SerializeCheckpoint(Example());
  testing::WriteFile(dir / "cut.ckpt", bytes.substr(0, bytes.size() - 3));
  CHECK(ReadCheckpointId(dir / "cut.ckpt") == "run-7");  // metadata intact: the id still reads
  CHECK(testing::ExpectError([&] { ReadCheckpoint(dir / "cut.ckpt"); }, ExitCode::kBadData) ==
        dir / "cut.ckpt" + ": truncated checkpoint (ends inside the integrity hash)");
}

TEST_CASE("an unverified metadata length is bounded by the file size") {
  testing::TempDir dir;
  std::string bytes = SerializeCheckpoint(Example());
  for (int i = 0; i < 8; ++i) bytes[12 + i] = static_cast<char>(i == 3 ? 0x40 : 0);  // 1 GiB, little-endian
  testing::WriteFile(dir / "long.ckpt", bytes);
  CHECK(testing::ExpectError([&] { ReadCheckpointId(dir / "long.ckpt"); }, ExitCode::kBadData) ==
        dir / "long.ckpt" + ": truncated checkpoint (metadata length 1073741824 exceeds the file's " +
            std::to_string(bytes.size()) + " bytes)");
}

TEST_CASE("metadata nested too deep is refused even behind a valid hash") {
  CheckpointContents c = Example();
  nlohmann::json deep = 1;
  for (int i = 0; i < 100; ++i) deep = nlohmann::json::array({std::move(deep)});
  c.metadata["deep"] = std::move(deep);
  CHECK(testing::ExpectError([&] { ParseCheckpoint(SerializeCheckpoint(c), "x.ckpt"); }, ExitCode::kBadData) ==
        "x.ckpt: checkpoint metadata: JSON nested deeper than 64 levels");
}

TEST_CASE("typed metadata access refuses wrong types and out-of-range numbers") {
  const nlohmann::json m = {{"step", 7},   {"half", 1.5},  {"name", "x"},          {"big", int64_t{1} << 40},
                            {"neg", -1},   {"list", {1, 2}}, {"mixed", {1, "two"}}, {"none", nullptr}};
  CHECK(MetadataField<int>(m, "step", "c") == 7);
  CHECK(MetadataValue<int>(m, "absent", 5, "c") == 5);
  CHECK(MetadataValue<int>(m, "none", 5, "c") == 5);
  CHECK(MetadataField<double>(m, "step", "c") == 7.0);
  CHECK(MetadataField<std::vector<int>>(m, "list", "c") == std::vector<int>{1, 2});
  const std::string wrong = "c: checkpoint field '";
  CHECK(testing::ExpectError([&] { MetadataField<int>(m, "half", "c"); }, ExitCode::kBadData) == wrong + "half' has the wrong type");
  CHECK(testing::ExpectError([&] { MetadataField<int>(m, "name", "c"); }, ExitCode::kBadData) == wrong + "name' has the wrong type");
  CHECK(testing::ExpectError([&] { MetadataField<int>(m, "big", "c"); }, ExitCode::kBadData) == wrong + "big' has the wrong type");
  CHECK(testing::ExpectError([&] { MetadataField<uint64_t>(m, "neg", "c"); }, ExitCode::kBadData) == wrong + "neg' has the wrong type");
  CHECK(testing::ExpectError([&] { MetadataField<std::vector<int>>(m, "mixed", "c"); }, ExitCode::kBadData) == wrong + "mixed' has the wrong type");
  CHECK(testing::ExpectError([&] { MetadataField<std::string>(m, "absent", "c"); }, ExitCode::kBadData) == "c: checkpoint lacks 'absent'");
  CHECK(testing::ExpectError([&] { MetadataField<int>(m["name"], "x", "c"); }, ExitCode::kBadData) ==
        "c: checkpoint metadata: the object holding 'x' is not a JSON object");
}

}  // namespace
}  // namespace perpetua
