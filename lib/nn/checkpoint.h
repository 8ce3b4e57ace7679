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
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

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

// Typed access to checkpoint metadata, the one way loaders read it. A hash
// proves a file is intact, not that its fields have the right types: every
// field is checked strictly (an integer field takes only integers in the
// type's range, never 1.5; a list takes only elements of its type).
//   MetadataField:  required; Error(kBadData, "<source>: checkpoint lacks '<key>'")
//   MetadataValue:  `fallback` when absent (or null)
// Both throw Error(kBadData, "<source>: checkpoint field '<key>' has the wrong
// type") on a mismatch, and "... the object holding '<key>' is not a JSON
// object" when `object` is something else.
// T: bool, int, int64_t, uint64_t, float, double, std::string, nlohmann::json
// (any value), or std::vector of those.
template <class T>
T MetadataField(const nlohmann::json& object, const std::string& key, const std::string& source);
template <class T>
T MetadataValue(const nlohmann::json& object, const std::string& key, T fallback,
                const std::string& source);

// FNV-1a 64-bit hash (the integrity check; exposed for tests).
uint64_t Fnv1a64(const void* data, size_t size, uint64_t seed = 14695981039346656037ULL);

// Implementation of MetadataField / MetadataValue.
namespace checkpoint_detail {
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
bool HasType(const nlohmann::json& v) {
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (!v.is_number_integer()) return false;
    const int64_t i = v.get<int64_t>();
    return std::is_signed_v<T> ? i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                     i <= static_cast<int64_t>(std::numeric_limits<T>::max())
                               : i >= 0;
  } else if constexpr (std::is_floating_point_v<T>) {
    return v.is_number();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string();
  } else {
    static_assert(IsVector<T>::value, "unsupported metadata type");
    if (!v.is_array()) return false;
    for (const auto& item : v) {
      if (!HasType<typename T::value_type>(item)) return false;
    }
    return true;
  }
}

enum class FieldProblem { kMissing, kWrongType, kNotInObject };
[[noreturn]] void FailField(const std::string& source, const std::string& key, FieldProblem problem);
}  // namespace checkpoint_detail

template <class T>
T MetadataValue(const nlohmann::json& object, const std::string& key, T fallback,
                const std::string& source) {
  using checkpoint_detail::FieldProblem;
  if (!object.is_object()) checkpoint_detail::FailField(source, key, FieldProblem::kNotInObject);
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!checkpoint_detail::HasType<T>(*it)) checkpoint_detail::FailField(source, key, FieldProblem::kWrongType);
  return it->template get<T>();
}

template <class T>
T MetadataField(const nlohmann::json& object, const std::string& key, const std::string& source) {
  if (object.is_object() && !object.contains(key)) {
    checkpoint_detail::FailField(source, key, checkpoint_detail::FieldProblem::kMissing);
  }
  return MetadataValue<T>(object, key, T(), source);
}

}  // namespace perpetua
