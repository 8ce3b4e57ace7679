// TFRecord framing, the container of TensorBoard event files. Each record is
//
//   uint64 length              little-endian, bytes of data
//   uint32 masked CRC-32C      of the 8 length bytes (MaskCrc(Crc32c(...)))
//   data                       `length` bytes (here: one serialized Event)
//   uint32 masked CRC-32C      of data
//
// A reader stops at the first record that is short or fails a CRC: what a
// writer killed mid-record leaves behind is never read as data.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace perpetua::tensorboard {

// Bytes of framing around each record's data (8 + 4 + 4).
inline constexpr size_t kRecordOverhead = 16;

// `data` framed as one record (data.size() + kRecordOverhead bytes).
std::string FrameRecord(std::string_view data);

// What ScanRecords found.
struct RecordScan {
  std::vector<std::string> records;  // data of the complete, verified records, in file order
  size_t valid_bytes = 0;            // bytes from the start that those records span
  // "" if the bytes end exactly after the last complete record; otherwise why
  // reading stopped at valid_bytes: "short record" (the bytes end inside a
  // record, as a kill mid-write leaves it), "bad length CRC" or "bad data CRC".
  std::string stop_reason;
};

// Reads records from the start of `bytes` up to the first short or corrupt one.
RecordScan ScanRecords(std::string_view bytes);

}  // namespace perpetua::tensorboard
