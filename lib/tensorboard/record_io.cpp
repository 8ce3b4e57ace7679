#include "tensorboard/record_io.h"

#include <cstdint>

#include "tensorboard/crc32c.h"

namespace perpetua::tensorboard {
namespace {

void AppendLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

uint64_t ReadLittleEndian(std::string_view bytes, size_t at, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) {
    value |= uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  }
  return value;
}

}  // namespace

std::string FrameRecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + kRecordOverhead);
  AppendLittleEndian(out, data.size(), 8);
  AppendLittleEndian(out, MaskCrc(Crc32c(out)), 4);
  out.append(data);
  AppendLittleEndian(out, MaskCrc(Crc32c(data)), 4);
  return out;
}

RecordScan ScanRecords(std::string_view bytes) {
  RecordScan scan;
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t left = bytes.size() - at;
    if (left < 12) {
      scan.stop_reason = "short record";
      break;
    }
    if (ReadLittleEndian(bytes, at + 8, 4) != MaskCrc(Crc32c(bytes.substr(at, 8)))) {
      scan.stop_reason = "bad length CRC";
      break;
    }
    const uint64_t length = ReadLittleEndian(bytes, at, 8);
    if (left < kRecordOverhead || length > left - kRecordOverhead) {
      scan.stop_reason = "short record";
      break;
    }
    const std::string_view data = bytes.substr(at + 12, length);
    if (ReadLittleEndian(bytes, at + 12 + length, 4) != MaskCrc(Crc32c(data))) {
      scan.stop_reason = "bad data CRC";
      break;
    }
    scan.records.emplace_back(data);
    at += length + kRecordOverhead;
  }
  scan.valid_bytes = at;
  return scan;
}

}  // namespace perpetua::tensorboard
