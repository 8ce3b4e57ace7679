// The robot protocol's codec: round trips, and every kind of malformed input
// giving a clear ProtocolError (never a crash or an unbounded allocation).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "../sim/sim_test_util.h"
#include "common/rng.h"
#include "robot/frame.h"
#include "robot/protocol.h"

namespace perpetua::robot {
namespace {

using testing::ExpectError;

Array Image(int h, int w) {
  Array image = Array::Zeros(DType::kUint8, {h, w, 3});
  for (size_t i = 0; i < image.u8.size(); ++i) image.u8[i] = uint8_t(i * 7);
  return image;
}

EnvSpec Spec() {
  EnvSpec spec;
  spec.name = "toy";
  spec.observations = {{"image", DType::kUint8, {4, 5, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low = {-1.0f, -2.0f, 0.0f};
  spec.action.high = {1.0f, 2.0f, 1.0f};
  spec.action.names = {"a", "b", "c"};
  spec.max_episode_steps = 7;
  spec.control_hz = 12.5;
  spec.env_args = {{"x", 1}};
  return spec;
}

Observation Obs() {
  return {{"image", Image(4, 5)}, {"proprio", Array::FromFloats({0.25f, -3.5f})}};
}

std::vector<uint8_t> Bytes(const Frame& frame) { return EncodeFrame(frame); }

void PutU32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) { std::memcpy(bytes.data() + at, &value, 4); }

// A frame with a hand-written JSON part and binary part.
std::vector<uint8_t> Raw(uint16_t type, const std::string& json, size_t binary = 0, uint16_t version = 1) {
  std::vector<uint8_t> bytes(kHeaderBytes + json.size() + binary, 0);
  std::memcpy(bytes.data(), "PRBT", 4);
  std::memcpy(bytes.data() + 4, &version, 2);
  std::memcpy(bytes.data() + 6, &type, 2);
  PutU32(bytes, 8, uint32_t(json.size()));
  PutU32(bytes, 12, uint32_t(binary));
  std::memcpy(bytes.data() + kHeaderBytes, json.data(), json.size());
  return bytes;
}

Frame Decode(const std::vector<uint8_t>& bytes, const FrameLimits& limits = {}) {
  return DecodeFrame(bytes.data(), bytes.size(), limits);
}

TEST_CASE("frames round trip with their tensors byte for byte") {
  Frame frame;
  frame.type = MessageType::kStepResult;
  frame.meta = {{"reward", 0.5}, {"nested", {{"a", {1, 2, 3}}}}};
  frame.tensors = {{"observation/image", Image(64, 64)}, {"x", Array::FromFloats({1.5f, -0.0f, 3e30f})}};
  const std::vector<uint8_t> bytes = Bytes(frame);
  // Header: magic, version 1, type 6, then the two lengths.
  CHECK(std::memcmp(bytes.data(), "PRBT", 4) == 0);
  CHECK(bytes[4] == 1);
  CHECK(bytes[5] == 0);
  CHECK(bytes[6] == 6);
  const Frame back = Decode(bytes);
  CHECK(back.type == MessageType::kStepResult);
  CHECK(back.meta == frame.meta);
  REQUIRE(back.tensors.size() == 2);
  CHECK(back.tensors[0].name == "observation/image");
  CHECK(back.tensors[0].array.shape == std::vector<int64_t>{64, 64, 3});
  CHECK(back.tensors[0].array.u8 == frame.tensors[0].array.u8);
  CHECK(back.tensors[1].array.f32 == frame.tensors[1].array.f32);
  CHECK(EncodeFrame(back) == bytes);
}

TEST_CASE("every message round trips through its parser") {
  const EnvSpec spec = Spec();
  std::string server;
  const EnvSpec welcome = ParseWelcome(Decode(Bytes(EncodeWelcome(spec, "test server"))), &server);
  CHECK(server == "test server");
  CHECK(welcome.name == "toy");
  REQUIRE(welcome.observations.size() == 2);
  CHECK(welcome.observations[1].key == "proprio");
  CHECK(welcome.observations[1].dtype == DType::kFloat32);
  CHECK(welcome.observations[0].shape == std::vector<int64_t>{4, 5, 3});
  CHECK(welcome.action.low == spec.action.low);
  CHECK(welcome.action.high == spec.action.high);
  CHECK(welcome.action.names == spec.action.names);
  CHECK(welcome.control_hz == 12.5);
  CHECK(welcome.max_episode_steps == 7);
  CHECK(welcome.env_args == spec.env_args);

  const HelloMessage hello = ParseHello(Decode(Bytes(EncodeHello({"me", "secret"}))));
  CHECK(hello.client == "me");
  CHECK(hello.token == "secret");

  const ResetRequest reset = ParseReset(Decode(Bytes(EncodeReset({18446744073709551615ull, {{"start", 1}}}))));
  CHECK(reset.seed == 18446744073709551615ull);
  CHECK(reset.options == nlohmann::json{{"start", 1}});

  ResetReply reset_reply;
  reset_reply.result = {Obs(), {{"object_ids", {3}}}};
  reset_reply.t_observation = 1234.5;
  const ResetReply reset_back = ParseResetResult(Decode(Bytes(EncodeResetResult(reset_reply))), spec);
  CHECK(reset_back.result.observation.at("image").u8 == Obs().at("image").u8);
  CHECK(reset_back.result.info == reset_reply.result.info);
  CHECK(reset_back.t_observation == 1234.5);

  const std::vector<float> action = {0.5f, -2.0f, 1.0f};
  CHECK(ParseStep(Decode(Bytes(EncodeStep(action, spec.action, 3))), spec.action) == action);

  StepReply step;
  step.result = {Obs(), -0.25, false, true, {{"success", false}}};
  step.applied_action = action;
  step.interrupted = true;
  step.t_observation = 10.25;
  step.t_action = 10.0;
  const StepReply step_back = ParseStepResult(Decode(Bytes(EncodeStepResult(step))), spec);
  CHECK(step_back.result.reward == -0.25);
  CHECK_FALSE(step_back.result.terminated);
  CHECK(step_back.result.truncated);
  CHECK(step_back.interrupted);
  CHECK(step_back.applied_action == action);
  CHECK(step_back.t_action == 10.0);
  CHECK(step_back.result.observation.at("proprio").f32 == Obs().at("proprio").f32);

  const ErrorMessage error = ParseError(Decode(Bytes(EncodeError({"busy", "one at a time", true}))));
  CHECK(error.code == "busy");
  CHECK(error.fatal);
  CHECK(ParsePong(Decode(Bytes(EncodePong(42.0)))) == 42.0);
}

TEST_CASE("truncated frames are errors at every length") {
  Frame frame;
  frame.type = MessageType::kStep;
  frame.tensors = {{"action", Array::FromFloats({1, 2, 3})}};
  const std::vector<uint8_t> bytes = Bytes(frame);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string message = ExpectError(
        [&] { DecodeFrame(bytes.data(), n); }, ExitCode::kEnvFailure, "truncated frame");
    CHECK(message.find(n < kHeaderBytes ? "a header alone is 16" : "expected") != std::string::npos);
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  ExpectError([&] { Decode(longer); }, ExitCode::kEnvFailure, "1 trailing bytes after the frame");
}

TEST_CASE("bad magic and version mismatch are named") {
  std::vector<uint8_t> bytes = Bytes(EncodeClose());
  std::vector<uint8_t> http(bytes);
  std::memcpy(http.data(), "GET ", 4);
  ExpectError([&] { Decode(http); }, ExitCode::kEnvFailure,
              "bad magic 47 45 54 20 (expected 50 52 42 54, \"PRBT\"): not a Perpetua robot protocol peer");
  const std::vector<uint8_t> v2 = Raw(8, "{}", 0, /*version=*/2);
  try {
    Decode(v2);
    FAIL("no error");
  } catch (const ProtocolError& e) {
    CHECK(std::string(e.what()) == "protocol version mismatch: the peer speaks version 2, this build speaks version 1");
    CHECK(e.error_code() == "version");
  }
  ExpectError([&] { Decode(Raw(0, "{}")); }, ExitCode::kEnvFailure, "unknown message type 0");
  ExpectError([&] { Decode(Raw(99, "{}")); }, ExitCode::kEnvFailure, "unknown message type 99");
}

TEST_CASE("oversized frames are refused from the header before any allocation") {
  std::vector<uint8_t> header = Raw(6, "{}");
  PutU32(header, 12, 0xFFFFFFF0u);  // claims ~4 GiB of tensors
  ExpectError([&] { DecodeHeader(header.data()); }, ExitCode::kEnvFailure,
              "oversized frame: 4294967282 bytes (limit 67108864)");
  PutU32(header, 12, 0);
  PutU32(header, 8, 2u << 20);
  ExpectError([&] { DecodeHeader(header.data()); }, ExitCode::kEnvFailure,
              "oversized frame: JSON part of 2097152 bytes (limit 1048576)");
  FrameLimits small;
  small.max_frame_bytes = 1000;
  Frame big;
  big.type = MessageType::kStepResult;
  big.tensors = {{"observation/image", Image(64, 64)}};
  const std::vector<uint8_t> bytes = Bytes(big);
  ExpectError([&] { Decode(bytes, small); }, ExitCode::kEnvFailure, "(limit 1000)");
  ExpectError([&] { EncodeFrame(big, small); }, ExitCode::kEnvFailure, "over the limit of 1000 bytes");
  // The default limit (64 MiB) carries a 640x480 image easily.
  big.tensors = {{"observation/image", Image(480, 640)}};
  CHECK(Decode(Bytes(big)).tensors[0].array.u8.size() == 480 * 640 * 3);
}

TEST_CASE("malformed JSON parts are errors") {
  ExpectError([&] { Decode(Raw(8, "{\"a\"")); }, ExitCode::kEnvFailure, "the JSON part does not parse");
  ExpectError([&] { Decode(Raw(8, "{")); }, ExitCode::kEnvFailure, "malformed frame: JSON part of 1 bytes");
  ExpectError([&] { Decode(Raw(8, "[1, 2]")); }, ExitCode::kEnvFailure, "the JSON part is not an object");
  ExpectError([&] { Decode(Raw(8, "{\"a\": \"\xff\xfe\"}")); }, ExitCode::kEnvFailure, "does not parse");
  // Deep nesting would exhaust the parser's stack: refused before parsing.
  const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  ExpectError([&] { Decode(Raw(8, deep)); }, ExitCode::kEnvFailure, "JSON nested deeper than 32 levels");
  // Brackets inside strings do not count.
  CHECK(Decode(Raw(8, "{\"a\": \"" + std::string(100, '[') + "\\\"\"}")).meta.contains("a"));
}

TEST_CASE("bad tensor lists are errors") {
  auto tensors = [](const std::string& list, size_t binary) {
    return Raw(5, "{\"tensors\": " + list + "}", binary);
  };
  ExpectError([&] { Decode(tensors("{}", 0)); }, ExitCode::kEnvFailure, "'tensors' is not a list");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"dtype\": \"float64\", \"shape\": [1]}]", 8)); },
              ExitCode::kEnvFailure, "tensor 'a' has dtype 'float64' (expected uint8 or float32)");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [-1]}]", 0)); },
              ExitCode::kEnvFailure, "not a non-negative integer");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [2.5]}]", 0)); },
              ExitCode::kEnvFailure, "not a non-negative integer");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [4]}]", 3)); },
              ExitCode::kEnvFailure, "needs more than the 3 binary bytes left");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [2]}]", 3)); },
              ExitCode::kEnvFailure, "the tensors take 2 bytes but the binary part has 3");
  // Shapes whose product overflows 64 bits are caught, not wrapped.
  ExpectError([&] {
    Decode(tensors("[{\"name\": \"a\", \"dtype\": \"float32\", \"shape\": [4294967296, 4294967296, 4294967296]}]", 8));
  }, ExitCode::kEnvFailure, "needs more than");
  ExpectError([&] {
    Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [1]}, "
                   "{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [1]}]", 2));
  }, ExitCode::kEnvFailure, "tensor name 'a' is empty, too long or repeated");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"shape\": [1]}]", 1)); }, ExitCode::kEnvFailure,
              "a tensor entry needs a string 'name', a string 'dtype' and a list 'shape'");
  ExpectError([&] { Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [1,1,1,1,1,1,1,1,1]}]", 1)); },
              ExitCode::kEnvFailure, "tensor 'a' has 9 dimensions (limit 8)");
  // An empty tensor is fine.
  CHECK(Decode(tensors("[{\"name\": \"a\", \"dtype\": \"uint8\", \"shape\": [0, 3]}]", 0)).tensors[0].array.u8.empty());
}

TEST_CASE("messages with the wrong dtype shape or content are refused") {
  const EnvSpec spec = Spec();
  // STEP: wrong size, wrong dtype, NaN.
  Frame step;
  step.type = MessageType::kStep;
  step.tensors = {{"action", Array::FromFloats({1, 2})}};
  ExpectError([&] { ParseStep(Decode(Bytes(step)), spec.action); }, ExitCode::kEnvFailure,
              "malformed step: 'action' is float32 [2], expected float32 [3]");
  step.tensors = {{"action", Array::Zeros(DType::kUint8, {3})}};
  ExpectError([&] { ParseStep(Decode(Bytes(step)), spec.action); }, ExitCode::kEnvFailure,
              "'action' is uint8 [3], expected float32 [3]");
  step.tensors = {{"action", Array::FromFloats({0, std::nanf(""), 0})}};
  ExpectError([&] { ParseStep(Decode(Bytes(step)), spec.action); }, ExitCode::kEnvFailure,
              "'action' component 1 is not finite");
  step.tensors.clear();
  ExpectError([&] { ParseStep(Decode(Bytes(step)), spec.action); }, ExitCode::kEnvFailure, "no 'action' tensor");
  // A NaN or wrong-sized action never leaves the client.
  ExpectError([&] { EncodeStep({0.0f, std::numeric_limits<float>::infinity(), 0.0f}, spec.action, 0); },
              ExitCode::kUsage, "refusing to send a non-finite action (component 1)");
  ExpectError([&] { EncodeStep({0.0f}, spec.action, 0); }, ExitCode::kUsage,
              "refusing to send an action of 1 components to a robot that takes 3");

  // STEP_RESULT: observation of the wrong shape or dtype, missing or extra keys, missing fields.
  StepReply reply;
  reply.result = {Obs(), 0.0, false, false, {}};
  reply.applied_action = {0, 0, 0};
  Frame result = EncodeStepResult(reply);
  result.tensors[0].array = Image(5, 4);
  ExpectError([&] { ParseStepResult(Decode(Bytes(result)), spec); }, ExitCode::kEnvFailure,
              "malformed step_result: observation 'image' is uint8 [5, 4, 3], the robot declared uint8 [4, 5, 3]");
  result = EncodeStepResult(reply);
  result.tensors[1].array = Array::Zeros(DType::kUint8, {2});
  ExpectError([&] { ParseStepResult(Decode(Bytes(result)), spec); }, ExitCode::kEnvFailure,
              "observation 'proprio' is uint8 [2], the robot declared float32 [2]");
  result = EncodeStepResult(reply);
  result.tensors.erase(result.tensors.begin());
  ExpectError([&] { ParseStepResult(Decode(Bytes(result)), spec); }, ExitCode::kEnvFailure,
              "observation 'image' is missing");
  result = EncodeStepResult(reply);
  result.tensors.push_back({"observation/depth", Image(1, 1)});
  ExpectError([&] { ParseStepResult(Decode(Bytes(result)), spec); }, ExitCode::kEnvFailure,
              "undeclared observation tensor 'observation/depth'");
  result = EncodeStepResult(reply);
  result.meta.erase("reward");
  ExpectError([&] { ParseStepResult(Decode(Bytes(result)), spec); }, ExitCode::kEnvFailure,
              "malformed step_result: no 'reward' field");
  result = EncodeStepResult(reply);
  result.meta["terminated"] = "no";
  ExpectError([&] { ParseStepResult(Decode(Bytes(result)), spec); }, ExitCode::kEnvFailure,
              "'terminated'/'truncated' are not true or false");
  // A reply of the wrong type.
  ExpectError([&] { ParseStepResult(Decode(Bytes(EncodePong(1.0))), spec); }, ExitCode::kEnvFailure,
              "unexpected pong message where step_result was expected");

  // WELCOME: bad specs.
  Frame welcome = EncodeWelcome(spec, "s");
  welcome.meta["action"]["low"] = {1.0, 0.0, 0.0};
  welcome.meta["action"]["high"] = {0.0, 1.0, 1.0};
  ExpectError([&] { ParseWelcome(Decode(Bytes(welcome))); }, ExitCode::kEnvFailure,
              "action bound 0 is not a finite interval low <= high");
  welcome = EncodeWelcome(spec, "s");
  welcome.meta["observations"][0]["dtype"] = "int16";
  ExpectError([&] { ParseWelcome(Decode(Bytes(welcome))); }, ExitCode::kEnvFailure,
              "observation 'image' has dtype 'int16' (expected uint8 or float32)");
  welcome = EncodeWelcome(spec, "s");
  welcome.meta["observations"][0]["shape"] = {0, 3};
  ExpectError([&] { ParseWelcome(Decode(Bytes(welcome))); }, ExitCode::kEnvFailure, "has a bad shape");
  welcome = EncodeWelcome(spec, "s");
  welcome.meta["max_episode_steps"] = 0;
  ExpectError([&] { ParseWelcome(Decode(Bytes(welcome))); }, ExitCode::kEnvFailure,
              "'max_episode_steps' is not an integer in 1..1e8");
  // RESET: a negative seed.
  ExpectError([&] { ParseReset(Decode(Raw(3, "{\"seed\": -1}"))); }, ExitCode::kEnvFailure,
              "malformed reset: 'seed' is not a non-negative integer");
}

// Deterministic mutation fuzzing (beside the libFuzzer target in fuzz/): every
// mutated frame either decodes or throws ProtocolError; nothing else escapes.
TEST_CASE("mutated frames decode or fail cleanly") {
  const EnvSpec spec = Spec();
  StepReply reply;
  reply.result = {Obs(), 0.5, false, false, {{"success", true}, {"ids", {1, 2}}}};
  reply.applied_action = {0, 1, 0};
  const std::vector<std::vector<uint8_t>> seeds = {
      Bytes(EncodeStepResult(reply)), Bytes(EncodeWelcome(spec, "s")), Bytes(EncodeStep({0, 1, 0}, spec.action, 2)),
      Bytes(EncodeReset({7, {{"start", 0.5}}})), Bytes(EncodeError({"busy", "x", true}))};
  Rng rng(20240611);
  // Uniform integer in [lo, hi].
  auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng.UniformInt(uint64_t(hi - lo + 1))); };
  int64_t decoded = 0, refused = 0;
  constexpr int kRuns = 100000;
  for (int run = 0; run < kRuns; ++run) {
    std::vector<uint8_t> bytes = seeds[size_t(pick(0, int64_t(seeds.size()) - 1))];
    const int mutations = int(pick(1, 4));
    for (int m = 0; m < mutations; ++m) {
      const size_t at = size_t(pick(0, int64_t(bytes.size()) - 1));
      switch (pick(0, 4)) {
        case 0: bytes[at] = uint8_t(pick(0, 255)); break;                  // byte
        case 1: bytes[at] ^= uint8_t(1u << pick(0, 7)); break;             // bit
        case 2: bytes.resize(at); break;                                            // cut
        case 3: bytes.insert(bytes.begin() + long(at), uint8_t(pick(0, 255))); break;
        default: if (bytes.size() > kHeaderBytes) bytes[8 + size_t(pick(0, 7))] = 0xff; break;  // lengths
      }
      if (bytes.empty()) break;
    }
    try {
      const Frame frame = DecodeFrame(bytes.data(), bytes.size());
      switch (frame.type) {
        case MessageType::kStepResult: ParseStepResult(frame, spec); break;
        case MessageType::kWelcome: ParseWelcome(frame); break;
        case MessageType::kStep: ParseStep(frame, spec.action); break;
        case MessageType::kReset: ParseReset(frame); break;
        case MessageType::kError: ParseError(frame); break;
        default: break;
      }
      ++decoded;
    } catch (const ProtocolError&) {
      ++refused;
    }
  }
  MESSAGE("mutated frames: " << decoded << " decoded, " << refused << " refused");
  CHECK(decoded + refused == kRuns);
  CHECK(refused > kRuns / 2);
  CHECK(decoded > 0);
}

}  // namespace
}  // namespace perpetua::robot
