// The robot protocol's framing (docs/protocol.md, "Frames"): pure functions
// that turn a message into bytes and back, with no I/O, so they can be fuzzed.
//
// A frame is a 16-byte little-endian header, a UTF-8 JSON object (the
// message's metadata) and a binary part holding raw tensors back to back:
//
//   offset  size  field
//   0       4     magic "PRBT" (50 52 42 54)
//   4       2     protocol version (kProtocolVersion)
//   6       2     message type (MessageType)
//   8       4     JSON length J in bytes (1 .. limits.max_json_bytes)
//   12      4     binary length B in bytes (J + B <= limits.max_frame_bytes)
//   16      J     JSON object; its "tensors" entry lists the binary part:
//                 [{"name": "observation/image", "dtype": "uint8", "shape": [64, 64, 3]}, ...]
//   16+J    B     the tensors' elements in that order, row-major, little-endian,
//                 unpadded; B is exactly the sum of their sizes.
//
// Decoding never trusts a length before checking it against the limits, so a
// hostile or broken peer cannot make the reader allocate more than
// max_frame_bytes, crash it, or make it loop. Every malformed input throws
// ProtocolError with one line saying what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array.h"
#include "common/error.h"

namespace perpetua::robot {

// The version this build speaks. Bumped on any incompatible change.
constexpr uint16_t kProtocolVersion = 1;
// Bytes of the fixed header.
constexpr size_t kHeaderBytes = 16;
// "PRBT" as it appears on the wire.
constexpr uint8_t kMagic[4] = {0x50, 0x52, 0x42, 0x54};

// Message types (docs/protocol.md, "Messages"). Never renumber, only append.
enum class MessageType : uint16_t {
  kHello = 1,        // client -> server: version, client name, optional token
  kWelcome = 2,      // server -> client: the robot's specs
  kReset = 3,        // client -> server: seed, options
  kResetResult = 4,  // server -> client: first observation, info
  kStep = 5,         // client -> server: one action
  kStepResult = 6,   // server -> client: observation, reward, flags, applied action
  kHold = 7,         // client -> server: stop moving and hold position (no reply)
  kClose = 8,        // client -> server: end the session (no reply)
  kError = 9,        // server -> client: a request failed (recoverable or fatal)
  kPing = 10,        // client -> server: measure the round trip
  kPong = 11,        // server -> client: the answer, with the server's clock
};
// "hello", "welcome", ...; "unknown" for values outside the enum.
const char* MessageTypeName(MessageType type);

// Size bounds both ends enforce.
struct FrameLimits {
  uint32_t max_frame_bytes = 64u << 20;  // J + B at most (default 64 MiB)
  uint32_t max_json_bytes = 1u << 20;    // J at most (default 1 MiB)
  int max_json_depth = 32;               // nesting of arrays/objects in the JSON part
  int max_tensors = 64;                  // entries of "tensors"
  int max_rank = 8;                      // dimensions per tensor
};

// A malformed, truncated, oversized or otherwise unacceptable frame or
// message. Code kEnvFailure (a robot that sends garbage has failed).
// `code()` aside, `error_code()` is the protocol's ERROR code a server
// answers it with ("bad_request", "version").
class ProtocolError : public Error {
 public:
  explicit ProtocolError(const std::string& message, std::string error_code = "bad_request")
      : Error(ExitCode::kEnvFailure, message), error_code_(std::move(error_code)) {}
  const std::string& error_code() const { return error_code_; }

 private:
  std::string error_code_;
};

// One named tensor of a frame's binary part.
struct NamedTensor {
  std::string name;  // "observation/image", "action", "applied_action"
  Array array;       // uint8 or float32, consistent with its shape
};

// A decoded message.
struct Frame {
  MessageType type = MessageType::kHello;
  uint16_t version = kProtocolVersion;  // as read from the header (decoders accept only theirs)
  nlohmann::json meta = nlohmann::json::object();  // the JSON part without "tensors"
  std::vector<NamedTensor> tensors;                // the binary part, in wire order

  // The tensor called `name`, or nullptr.
  const NamedTensor* Find(const std::string& name) const;
  NamedTensor* Find(const std::string& name);
};

// What the header says.
struct FrameHeader {
  uint16_t version = 0;
  MessageType type = MessageType::kHello;
  uint32_t json_bytes = 0;    // J
  uint32_t binary_bytes = 0;  // B
  size_t body_bytes() const { return size_t(json_bytes) + size_t(binary_bytes); }
};

// Serialises `frame` (its `version` field is ignored: kProtocolVersion is
// written). Throws ProtocolError if the result would break `limits` or a
// tensor is inconsistent with its shape, or `meta` is not an object or
// already holds "tensors".
std::vector<uint8_t> EncodeFrame(const Frame& frame, const FrameLimits& limits = {});

// Parses and checks the 16 header bytes at `bytes` (magic, version, known
// type, J >= 2, J and J + B within `limits`). A version other than
// kProtocolVersion throws ProtocolError naming both versions.
FrameHeader DecodeHeader(const uint8_t* bytes, const FrameLimits& limits = {});

// Decodes the J + B body bytes that follow `header`. `size` must equal
// header.body_bytes(). Checks the JSON (an object, depth bounded) and the
// tensor list (names unique and non-empty, known dtypes, shapes whose sizes
// add up exactly to B).
Frame DecodeBody(const FrameHeader& header, const uint8_t* body, size_t size,
                 const FrameLimits& limits = {});

// DecodeHeader + DecodeBody over one complete frame; `size` must be exactly
// the frame's length (shorter: "truncated frame", longer: "trailing bytes").
Frame DecodeFrame(const uint8_t* bytes, size_t size, const FrameLimits& limits = {});

}  // namespace perpetua::robot
