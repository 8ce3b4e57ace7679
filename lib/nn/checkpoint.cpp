#include "nn/checkpoint.h"

#include <algorithm>
#include <cstring>

#include "common/document.h"
#include "common/error.h"
#include "common/fs.h"

namespace perpetua {
namespace {

constexpr char kMagic[8] = {'P', 'E', 'R', 'P', 'C', 'K', 'P', 'T'};

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Sequential reader over bytes that fails with Error(kBadData) on truncation.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& source) : bytes_(bytes), source_(source) {}
  uint64_t U64(const char* what) {
    Need(8, what);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  uint32_t U32(const char* what) {
    Need(4, what);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::string Bytes(uint64_t n, const char* what) {
    Need(n, what);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }

 private:
  void Need(uint64_t n, const char* what) {
    if (n > bytes_.size() - pos_) {
      Fail(ExitCode::kBadData, source_ + ": truncated checkpoint (ends inside " + what + ")");
    }
  }
  const std::string& bytes_;
  const std::string& source_;
  size_t pos_ = 0;
};

// Reads magic, version and metadata; leaves the reader after the metadata.
nlohmann::json ReadHeader(Reader& reader, const std::string& source) {
  const std::string magic = reader.Bytes(sizeof(kMagic), "the file header");
  if (std::memcmp(magic.data(), kMagic, sizeof(kMagic)) != 0) {
    Fail(ExitCode::kBadData, source + ": not a Perpetua checkpoint (bad magic bytes)");
  }
  const uint32_t version = reader.U32("the file header");
  if (version != kCheckpointFormatVersion) {
    Fail(ExitCode::kBadData, source + ": checkpoint format version " + std::to_string(version) +
                                 " is not supported (this build reads version " +
                                 std::to_string(kCheckpointFormatVersion) + ")");
  }
  const uint64_t length = reader.U64("the metadata length");
  const std::string text = reader.Bytes(length, "the metadata");
  nlohmann::json metadata = ParseJson(text, source + ": checkpoint metadata", ExitCode::kBadData);
  if (!metadata.is_object()) {
    Fail(ExitCode::kBadData, source + ": checkpoint metadata is not a JSON object");
  }
  return metadata;
}

}  // namespace

namespace checkpoint_detail {
void FailField(const std::string& source, const std::string& key, FieldProblem problem) {
  switch (problem) {
    case FieldProblem::kMissing: Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + key + "'");
    case FieldProblem::kWrongType:
      Fail(ExitCode::kBadData, source + ": checkpoint field '" + key + "' has the wrong type");
    case FieldProblem::kNotInObject:
      Fail(ExitCode::kBadData, source + ": checkpoint metadata: the object holding '" + key + "' is not a JSON object");
  }
  PERPETUA_CHECK(false);
}
}  // namespace checkpoint_detail

uint64_t Fnv1a64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

std::string SerializeCheckpoint(const CheckpointContents& contents) {
  PERPETUA_CHECK(contents.metadata.is_object());
  std::string out(kMagic, sizeof(kMagic));
  PutU32(out, kCheckpointFormatVersion);
  const std::string meta = contents.metadata.dump();
  PutU64(out, meta.size());
  out += meta;
  PutU64(out, contents.blobs.size());
  for (const auto& [name, data] : contents.blobs) {
    PutU64(out, name.size());
    out += name;
    PutU64(out, data.size());
    out += data;
  }
  PutU64(out, Fnv1a64(out.data(), out.size()));
  return out;
}

CheckpointContents ParseCheckpoint(const std::string& bytes, const std::string& source) {
  CheckpointContents contents;
  Reader reader(bytes, source);
  contents.metadata = ReadHeader(reader, source);
  const uint64_t count = reader.U64("the blob count");
  for (uint64_t i = 0; i < count; ++i) {
    const std::string name = reader.Bytes(reader.U64("a blob name length"), "a blob name");
    contents.blobs[name] = reader.Bytes(reader.U64("a blob length"), "a blob");
  }
  const size_t hashed = reader.pos();
  const uint64_t stored = reader.U64("the integrity hash");
  if (reader.pos() != bytes.size()) {
    Fail(ExitCode::kBadData, source + ": checkpoint has " + std::to_string(bytes.size() - reader.pos()) +
                                 " unexpected trailing bytes");
  }
  if (Fnv1a64(bytes.data(), hashed) != stored) {
    Fail(ExitCode::kBadData, source + ": checkpoint is corrupt (integrity hash mismatch)");
  }
  return contents;
}

void WriteCheckpoint(const std::string& path, const CheckpointContents& contents) {
  WriteFileAtomic(path, SerializeCheckpoint(contents));
}

CheckpointContents ReadCheckpoint(const std::string& path) {
  return ParseCheckpoint(ReadFileOrFail(path, ExitCode::kBadData), path);
}

nlohmann::json ReadCheckpointMetadata(const std::string& path) {
  const RegularFile file = RegularFile::Open(path, ExitCode::kBadData);
  constexpr uint64_t kHeadBytes = sizeof(kMagic) + 4 + 8;
  const std::string head = file.ReadAt(0, std::min<uint64_t>(kHeadBytes, file.size()));
  Reader probe(head, path);
  if (probe.Bytes(sizeof(kMagic), "the file header") != std::string(kMagic, sizeof(kMagic))) {
    Fail(ExitCode::kBadData, path + ": not a Perpetua checkpoint (bad magic bytes)");
  }
  probe.U32("the file header");
  // The length is not verified yet (the hash covers the whole file): bound it
  // by what the file holds before allocating anything.
  const uint64_t length = probe.U64("the metadata length");
  if (length > file.size() - kHeadBytes) {
    Fail(ExitCode::kBadData, path + ": truncated checkpoint (metadata length " + std::to_string(length) +
                                 " exceeds the file's " + std::to_string(file.size()) + " bytes)");
  }
  const std::string bytes = head + file.ReadAt(kHeadBytes, length);
  Reader reader(bytes, path);
  return ReadHeader(reader, path);
}

std::string ReadCheckpointId(const std::string& path) {
  const nlohmann::json metadata = ReadCheckpointMetadata(path);
  const std::string id = MetadataValue<std::string>(metadata, "id", "", path);
  if (id.empty()) Fail(ExitCode::kBadData, path + ": checkpoint metadata has no string 'id'");
  return id;
}

}  // namespace perpetua
