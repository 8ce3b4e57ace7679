// The one bounded reader for structured text that comes from files: JSON
// (checkpoint metadata, shard provenance and specs, trainer state) and YAML
// (config files). Nothing else parses file content.
//
// Limits (a document that exceeds one is refused, never half-read):
//   depth  kMaxDocumentDepth levels of nested arrays/objects (JSON) or of
//          nested sequences/mappings (YAML). Perpetua's own documents nest
//          fewer than 10 levels; the limit keeps recursive code (copies,
//          comparisons, printing) far from the stack's end and output linear.
//   size   kMaxJsonBytes per JSON document; kMaxConfigBytes per config file
//          (ApplyYamlFile reads at most that, from a regular file only).
//   aliases a YAML document whose aliases expand to more nodes than twice its
//          bytes (+64) is refused ("billion laughs": 9 levels of 9 aliases).
// Failures throw Error(code, "<source>: <what is wrong>") with the caller's
// exit code (kBadData for data and checkpoints, kUsage for configs).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace YAML {
class Node;
}

namespace perpetua {

inline constexpr int kMaxDocumentDepth = 64;
inline constexpr size_t kMaxJsonBytes = size_t{64} << 20;   // 64 MiB
inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;  // 1 MiB

// The deepest nesting of [ and { outside strings in `text`, stopping early
// once past `limit` (linear, no recursion; malformed text is left to the
// parser). Also used by the robot protocol's frame decoder.
int JsonDepth(std::string_view text, int limit);

// Parses one JSON document within the limits above. Throws
// Error(code, "<source>: not valid JSON (...)" / "nested deeper than 64
// levels" / "... bytes, more than the limit of ...").
nlohmann::json ParseJson(std::string_view text, const std::string& source, ExitCode code);

// As ParseJson, but returns nullopt instead of throwing (for optional,
// informational fields such as a shard's provenance).
std::optional<nlohmann::json> TryParseJson(std::string_view text);

// Parses one YAML document within the limits above (yaml-cpp; aliases are
// not expanded). Throws Error(code, "<source>: not valid YAML (line N): ...").
YAML::Node ParseYaml(std::string_view text, const std::string& source, ExitCode code);

}  // namespace perpetua
