#include "nn/checkpoint.h"

#include <cstring>
#include <fstream>

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
  nlohmann::json metadata = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (metadata.is_discarded() || !metadata.is_object()) {
    Fail(ExitCode::kBadData, source + ": checkpoint metadata is not a JSON object");
  }
  return metadata;
}

}  // namespace

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
  if (!IsRegularFile(path)) Fail(ExitCode::kBadData, path + ": no such checkpoint file");
  return ParseCheckpoint(ReadFileOrFail(path, ExitCode::kBadData), path);
}

nlohmann::json ReadCheckpointMetadata(const std::string& path) {
  if (!IsRegularFile(path)) Fail(ExitCode::kBadData, path + ": no such checkpoint file");
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(ExitCode::kBadData, path + ": cannot open checkpoint");
  std::string head(sizeof(kMagic) + 4 + 8, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  Reader probe(head, path);
  if (probe.Bytes(sizeof(kMagic), "the file header") != std::string(kMagic, sizeof(kMagic))) {
    Fail(ExitCode::kBadData, path + ": not a Perpetua checkpoint (bad magic bytes)");
  }
  probe.U32("the file header");
  const uint64_t length = probe.U64("the metadata length");
  if (length > (uint64_t{1} << 30)) Fail(ExitCode::kBadData, path + ": checkpoint metadata length is implausible");
  std::string rest(length, '\0');
  in.read(rest.data(), static_cast<std::streamsize>(length));
  rest.resize(static_cast<size_t>(in.gcount()));
  const std::string bytes = head + rest;
  Reader reader(bytes, path);
  return ReadHeader(reader, path);
}

std::string ReadCheckpointId(const std::string& path) {
  const nlohmann::json metadata = ReadCheckpointMetadata(path);
  if (!metadata.contains("id") || !metadata["id"].is_string()) {
    Fail(ExitCode::kBadData, path + ": checkpoint metadata has no string 'id'");
  }
  return metadata["id"].get<std::string>();
}

}  // namespace perpetua
