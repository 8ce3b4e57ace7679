// The checkpoint container every learner writes (QT-Opt now; SAC, VICE and the
// VAE later): one self-describing file, written atomically, checked on load.
//
// File layout (all integers little-endian):
//   "PERPCKPT" (8 bytes) | format version u32 | metadata length u64 | metadata JSON
//   | blob count u64 | per blob: name length u64, name, data length u64, data
//   | FNV-1a 64 hash u64 of every preceding byte
// The metadata JSON always holds "algorithm", "id", "step", "seed" and whatever
// else the learner records (network config, observation/action specs, the
// effective config, example input/output). Blobs are opaque named byte strings
// (serialised tensors, optimiser state, RNG state, buffer positions).
//
// The metadata comes first so ReadCheckpointMetadata() can read it without
// loading the tensors (cheap enough to poll for hot reload). A truncated or
// altered file fails the hash check in ReadCheckpoint(): Error(kBadData).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace perpetua {

// Current container format version written by SerializeCheckpoint().
inline constexpr uint32_t kCheckpointFormatVersion = 1;

struct CheckpointContents {
  nlohmann::json metadata = nlohmann::json::object();  // see the file comment
  std::map<std::string, std::string> blobs;             // name -> bytes
};

// The whole file as bytes (metadata must be a JSON object).
std::string SerializeCheckpoint(const CheckpointContents& contents);

// Parses and verifies bytes produced by SerializeCheckpoint(). `source` names
// the origin in errors. Throws Error(kBadData) "<source>: ..." on a wrong
// magic, unknown version, truncation, bad JSON or hash mismatch.
CheckpointContents ParseCheckpoint(const std::string& bytes, const std::string& source);

// SerializeCheckpoint + WriteFileAtomic (fs.h). Throws Error(kIoError).
void WriteCheckpoint(const std::string& path, const CheckpointContents& contents);

// Reads and verifies a whole checkpoint file. Throws Error(kBadData) for a
// missing, unreadable or corrupt file (message starts with the path).
CheckpointContents ReadCheckpoint(const std::string& path);

// Reads only the metadata JSON (no hash check over the blobs: use it to poll
// ids and inspect, not to trust the tensors). Throws Error(kBadData).
nlohmann::json ReadCheckpointMetadata(const std::string& path);

// The checkpoint's id (metadata "id"): changes with every checkpoint a run
// writes. Cheap (reads the metadata only). Throws Error(kBadData).
std::string ReadCheckpointId(const std::string& path);

// FNV-1a 64-bit hash (the integrity check; exposed for tests).
uint64_t Fnv1a64(const void* data, size_t size, uint64_t seed = 14695981039346656037ULL);

}  // namespace perpetua
