#include "robot/frame.h"

#include "common/document.h"

#include <cstring>
#include <set>

namespace perpetua::robot {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the wire format is little-endian; a big-endian port must swap bytes here");

namespace {

void PutU16(uint8_t* at, uint16_t value) { std::memcpy(at, &value, 2); }
void PutU32(uint8_t* at, uint32_t value) { std::memcpy(at, &value, 4); }
uint16_t GetU16(const uint8_t* at) {
  uint16_t value;
  std::memcpy(&value, at, 2);
  return value;
}
uint32_t GetU32(const uint8_t* at) {
  uint32_t value;
  std::memcpy(&value, at, 4);
  return value;
}

[[noreturn]] void Bad(const std::string& message) { throw ProtocolError(message); }

// Rejects JSON nested deeper than `max_depth` before the recursive parser
// sees it (deep nesting would otherwise exhaust the stack).
void CheckJsonDepth(const uint8_t* text, size_t size, int max_depth) {
  if (JsonDepth(std::string_view(reinterpret_cast<const char*>(text), size), max_depth) > max_depth) {
    Bad("malformed frame: JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
}

bool ParseDType(const std::string& name, DType& dtype) {
  if (name == "uint8") {
    dtype = DType::kUint8;
  } else if (name == "float32") {
    dtype = DType::kFloat32;
  } else {
    return false;
  }
  return true;
}

}  // namespace

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello: return "hello";
    case MessageType::kWelcome: return "welcome";
    case MessageType::kReset: return "reset";
    case MessageType::kResetResult: return "reset_result";
    case MessageType::kStep: return "step";
    case MessageType::kStepResult: return "step_result";
    case MessageType::kHold: return "hold";
    case MessageType::kClose: return "close";
    case MessageType::kError: return "error";
    case MessageType::kPing: return "ping";
    case MessageType::kPong: return "pong";
  }
  return "unknown";
}

const NamedTensor* Frame::Find(const std::string& name) const {
  for (const NamedTensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

NamedTensor* Frame::Find(const std::string& name) {
  return const_cast<NamedTensor*>(static_cast<const Frame&>(*this).Find(name));
}

std::vector<uint8_t> EncodeFrame(const Frame& frame, const FrameLimits& limits) {
  if (!frame.meta.is_object()) Bad("cannot encode a frame whose metadata is not a JSON object");
  if (frame.meta.contains("tensors")) Bad("cannot encode a frame whose metadata already holds 'tensors'");
  if (int(frame.tensors.size()) > limits.max_tensors) {
    Bad("cannot encode a frame with " + std::to_string(frame.tensors.size()) + " tensors (limit " +
        std::to_string(limits.max_tensors) + ")");
  }
  nlohmann::json meta = frame.meta;
  size_t binary = 0;
  if (!frame.tensors.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const NamedTensor& tensor : frame.tensors) {
      if (!tensor.array.Consistent()) Bad("cannot encode tensor '" + tensor.name + "': size does not match its shape");
      list.push_back({{"name", tensor.name}, {"dtype", DTypeName(tensor.array.dtype)}, {"shape", tensor.array.shape}});
      binary += size_t(tensor.array.NumElements()) * DTypeSize(tensor.array.dtype);
    }
    meta["tensors"] = std::move(list);
  }
  // Invalid UTF-8 (say, a truncated peer string quoted in an error) is replaced, never thrown.
  const std::string json = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (json.size() > limits.max_json_bytes || json.size() + binary > limits.max_frame_bytes) {
    Bad("cannot encode a " + std::string(MessageTypeName(frame.type)) + " frame of " +
        std::to_string(json.size() + binary) + " bytes: over the limit of " +
        std::to_string(limits.max_frame_bytes) + " bytes (JSON " + std::to_string(json.size()) + ")");
  }
  std::vector<uint8_t> bytes(kHeaderBytes + json.size() + binary);
  std::memcpy(bytes.data(), kMagic, 4);
  PutU16(bytes.data() + 4, kProtocolVersion);
  PutU16(bytes.data() + 6, uint16_t(frame.type));
  PutU32(bytes.data() + 8, uint32_t(json.size()));
  PutU32(bytes.data() + 12, uint32_t(binary));
  std::memcpy(bytes.data() + kHeaderBytes, json.data(), json.size());
  size_t at = kHeaderBytes + json.size();
  for (const NamedTensor& tensor : frame.tensors) {
    const size_t n = size_t(tensor.array.NumElements()) * DTypeSize(tensor.array.dtype);
    if (n > 0) std::memcpy(bytes.data() + at, tensor.array.data(), n);
    at += n;
  }
  return bytes;
}

FrameHeader DecodeHeader(const uint8_t* bytes, const FrameLimits& limits) {
  if (std::memcmp(bytes, kMagic, 4) != 0) {
    char seen[32];
    std::snprintf(seen, sizeof seen, "%02x %02x %02x %02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    Bad(std::string("malformed frame: bad magic ") + seen + " (expected 50 52 42 54, \"PRBT\"): "
        "not a Perpetua robot protocol peer");
  }
  FrameHeader header;
  header.version = GetU16(bytes + 4);
  if (header.version != kProtocolVersion) {
    throw ProtocolError("protocol version mismatch: the peer speaks version " + std::to_string(header.version) +
                            ", this build speaks version " + std::to_string(kProtocolVersion),
                        "version");
  }
  const uint16_t type = GetU16(bytes + 6);
  if (type < uint16_t(MessageType::kHello) || type > uint16_t(MessageType::kPong)) {
    Bad("malformed frame: unknown message type " + std::to_string(type));
  }
  header.type = MessageType(type);
  header.json_bytes = GetU32(bytes + 8);
  header.binary_bytes = GetU32(bytes + 12);
  if (header.json_bytes < 2) Bad("malformed frame: JSON part of " + std::to_string(header.json_bytes) + " bytes");
  if (header.json_bytes > limits.max_json_bytes) {
    Bad("oversized frame: JSON part of " + std::to_string(header.json_bytes) + " bytes (limit " +
        std::to_string(limits.max_json_bytes) + ")");
  }
  if (header.body_bytes() > limits.max_frame_bytes) {
    Bad("oversized frame: " + std::to_string(header.body_bytes()) + " bytes (limit " +
        std::to_string(limits.max_frame_bytes) + ")");
  }
  return header;
}

Frame DecodeBody(const FrameHeader& header, const uint8_t* body, size_t size, const FrameLimits& limits) {
  if (size != header.body_bytes()) {
    Bad("truncated frame: expected " + std::to_string(header.body_bytes()) + " body bytes, got " +
        std::to_string(size));
  }
  Frame frame;
  frame.type = header.type;
  frame.version = header.version;
  CheckJsonDepth(body, header.json_bytes, limits.max_json_depth);
  frame.meta = nlohmann::json::parse(body, body + header.json_bytes, nullptr, /*allow_exceptions=*/false);
  if (frame.meta.is_discarded()) Bad("malformed frame: the JSON part does not parse");
  if (!frame.meta.is_object()) Bad("malformed frame: the JSON part is not an object");

  size_t offset = 0;  // into the binary part
  const uint8_t* binary = body + header.json_bytes;
  if (frame.meta.contains("tensors")) {
    const nlohmann::json list = std::move(frame.meta["tensors"]);
    frame.meta.erase("tensors");
    if (!list.is_array()) Bad("malformed frame: 'tensors' is not a list");
    if (int(list.size()) > limits.max_tensors) {
      Bad("malformed frame: " + std::to_string(list.size()) + " tensors (limit " +
          std::to_string(limits.max_tensors) + ")");
    }
    std::set<std::string> names;
    for (const nlohmann::json& entry : list) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
          !entry.contains("dtype") || !entry["dtype"].is_string() || !entry.contains("shape") ||
          !entry["shape"].is_array()) {
        Bad("malformed frame: a tensor entry needs a string 'name', a string 'dtype' and a list 'shape'");
      }
      NamedTensor tensor;
      tensor.name = entry["name"].get<std::string>();
      if (tensor.name.empty() || tensor.name.size() > 256 || !names.insert(tensor.name).second) {
        Bad("malformed frame: tensor name '" + tensor.name.substr(0, 64) + "' is empty, too long or repeated");
      }
      const std::string dtype = entry["dtype"].get<std::string>();
      if (!ParseDType(dtype, tensor.array.dtype)) {
        Bad("malformed frame: tensor '" + tensor.name + "' has dtype '" + dtype.substr(0, 32) +
            "' (expected uint8 or float32)");
      }
      const nlohmann::json& shape = entry["shape"];
      if (int(shape.size()) > limits.max_rank) {
        Bad("malformed frame: tensor '" + tensor.name + "' has " + std::to_string(shape.size()) +
            " dimensions (limit " + std::to_string(limits.max_rank) + ")");
      }
      // Elements, checked against the bytes left at every factor (no overflow).
      const size_t element = DTypeSize(tensor.array.dtype);
      const size_t left = header.binary_bytes - offset;
      size_t count = 1;
      for (const nlohmann::json& dim : shape) {
        if (!dim.is_number_unsigned()) {
          Bad("malformed frame: tensor '" + tensor.name + "' has a shape entry that is not a non-negative integer");
        }
        const uint64_t d = dim.get<uint64_t>();
        if (d > limits.max_frame_bytes || (count != 0 && d != 0 && count > left / element / d)) {
          Bad("malformed frame: tensor '" + tensor.name + "' of shape " + shape.dump() +
              " needs more than the " + std::to_string(left) + " binary bytes left");
        }
        count *= size_t(d);
        tensor.array.shape.push_back(int64_t(d));
      }
      const size_t bytes = count * element;
      if (bytes > left) {
        Bad("malformed frame: tensor '" + tensor.name + "' needs " + std::to_string(bytes) +
            " bytes, " + std::to_string(left) + " are left");
      }
      if (tensor.array.dtype == DType::kUint8) {
        tensor.array.u8.assign(binary + offset, binary + offset + bytes);
      } else {
        tensor.array.f32.resize(count);
        if (bytes > 0) std::memcpy(tensor.array.f32.data(), binary + offset, bytes);
      }
      offset += bytes;
      frame.tensors.push_back(std::move(tensor));
    }
  }
  if (offset != header.binary_bytes) {
    Bad("malformed frame: the tensors take " + std::to_string(offset) + " bytes but the binary part has " +
        std::to_string(header.binary_bytes));
  }
  return frame;
}

Frame DecodeFrame(const uint8_t* bytes, size_t size, const FrameLimits& limits) {
  if (size < kHeaderBytes) {
    Bad("truncated frame: " + std::to_string(size) + " bytes, a header alone is " + std::to_string(kHeaderBytes));
  }
  const FrameHeader header = DecodeHeader(bytes, limits);
  if (size < kHeaderBytes + header.body_bytes()) {
    Bad("truncated frame: expected " + std::to_string(kHeaderBytes + header.body_bytes()) + " bytes, got " +
        std::to_string(size));
  }
  if (size > kHeaderBytes + header.body_bytes()) {
    Bad("malformed frame: " + std::to_string(size - kHeaderBytes - header.body_bytes()) +
        " trailing bytes after the frame");
  }
  return DecodeBody(header, bytes + kHeaderBytes, size - kHeaderBytes, limits);
}

}  // namespace perpetua::robot
