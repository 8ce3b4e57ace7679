#include "robot/protocol.h"

#include <cmath>
#include <limits>

#include "env/env_spec_json.h"

namespace perpetua::robot {
namespace {

[[noreturn]] void Bad(const char* message, const std::string& what) {
  throw ProtocolError(std::string("malformed ") + message + ": " + what);
}

void ExpectType(const Frame& frame, MessageType type) {
  if (frame.type != type) {
    throw ProtocolError(std::string("unexpected ") + MessageTypeName(frame.type) + " message where " +
                        MessageTypeName(type) + " was expected");
  }
}

const nlohmann::json& Field(const nlohmann::json& meta, const char* key, const char* message) {
  auto it = meta.find(key);
  if (it == meta.end()) Bad(message, std::string("no '") + key + "' field");
  return *it;
}

std::string StringField(const nlohmann::json& meta, const char* key, const char* message) {
  const nlohmann::json& value = Field(meta, key, message);
  if (!value.is_string()) Bad(message, std::string("'") + key + "' is not a string");
  return value.get<std::string>();
}

double NumberField(const nlohmann::json& meta, const char* key, const char* message) {
  const nlohmann::json& value = Field(meta, key, message);
  if (!value.is_number()) Bad(message, std::string("'") + key + "' is not a number");
  return value.get<double>();
}

bool BoolField(const nlohmann::json& meta, const char* key, const char* message, bool fallback) {
  auto it = meta.find(key);
  if (it == meta.end()) return fallback;
  if (!it->is_boolean()) Bad(message, std::string("'") + key + "' is not true or false");
  return it->get<bool>();
}

nlohmann::json ObjectField(const nlohmann::json& meta, const char* key, const char* message) {
  auto it = meta.find(key);
  if (it == meta.end() || it->is_null()) return nlohmann::json::object();
  if (!it->is_object()) Bad(message, std::string("'") + key + "' is not an object");
  return *it;
}

std::vector<float> ActionTensor(const Frame& frame, const char* name, const ActionSpec& spec,
                                const char* message) {
  const NamedTensor* tensor = frame.Find(name);
  if (!tensor) Bad(message, std::string("no '") + name + "' tensor");
  const Array& a = tensor->array;
  if (a.dtype != DType::kFloat32 || a.shape != std::vector<int64_t>{spec.dim()}) {
    Bad(message, std::string("'") + name + "' is " + DTypeName(a.dtype) + " " + ShapeString(a.shape) +
                     ", expected float32 [" + std::to_string(spec.dim()) + "]");
  }
  for (size_t i = 0; i < a.f32.size(); ++i) {
    if (!std::isfinite(a.f32[i])) {
      Bad(message, std::string("'") + name + "' component " + std::to_string(i) + " is not finite");
    }
  }
  return a.f32;
}

}  // namespace

Frame EncodeHello(const HelloMessage& hello) {
  Frame frame;
  frame.type = MessageType::kHello;
  frame.meta = {{"client", hello.client}};
  if (!hello.token.empty()) frame.meta["token"] = hello.token;
  return frame;
}

HelloMessage ParseHello(const Frame& frame) {
  ExpectType(frame, MessageType::kHello);
  HelloMessage hello;
  hello.client = StringField(frame.meta, "client", "hello");
  if (frame.meta.contains("token")) hello.token = StringField(frame.meta, "token", "hello");
  return hello;
}

Frame EncodeWelcome(const EnvSpec& spec, const std::string& server) {
  Frame frame;
  frame.type = MessageType::kWelcome;
  frame.meta = EnvSpecToJson(spec);
  frame.meta["server"] = server;
  // The protocol adds each observation's value range (images 0..255, vectors unbounded).
  for (nlohmann::json& entry : frame.meta["observations"]) {
    const bool image = entry["dtype"] == "uint8";
    entry["low"] = image ? nlohmann::json(0) : nlohmann::json(nullptr);
    entry["high"] = image ? nlohmann::json(255) : nlohmann::json(nullptr);
  }
  return frame;
}

EnvSpec ParseWelcome(const Frame& frame, std::string* server) {
  constexpr const char* kMsg = "welcome";
  ExpectType(frame, MessageType::kWelcome);
  if (server) *server = StringField(frame.meta, "server", kMsg);
  EnvSpec spec;
  const std::string problem = ParseEnvSpecJson(frame.meta, &spec);
  if (!problem.empty()) Bad(kMsg, problem);
  return spec;
}

Frame EncodeReset(const ResetRequest& reset) {
  Frame frame;
  frame.type = MessageType::kReset;
  frame.meta = {{"seed", reset.seed}, {"options", reset.options}};
  return frame;
}

ResetRequest ParseReset(const Frame& frame) {
  ExpectType(frame, MessageType::kReset);
  ResetRequest reset;
  const nlohmann::json& seed = Field(frame.meta, "seed", "reset");
  if (!seed.is_number_unsigned()) Bad("reset", "'seed' is not a non-negative integer");
  reset.seed = seed.get<uint64_t>();
  reset.options = ObjectField(frame.meta, "options", "reset");
  return reset;
}

void ObservationToFrame(Observation observation, Frame& frame) {
  for (auto& [key, array] : observation) frame.tensors.push_back({"observation/" + key, std::move(array)});
}

Observation ObservationFromFrame(Frame& frame, const EnvSpec& spec, const char* message) {
  for (const NamedTensor& tensor : frame.tensors) {
    if (tensor.name.rfind("observation/", 0) != 0) continue;
    bool declared = false;
    for (const ObservationSpec& o : spec.observations) declared |= tensor.name.compare(12, std::string::npos, o.key) == 0;
    if (!declared) Bad(message, "undeclared observation tensor '" + tensor.name + "'");
  }
  Observation observation;
  for (const ObservationSpec& o : spec.observations) {
    NamedTensor* tensor = frame.Find("observation/" + o.key);
    if (!tensor) Bad(message, "observation '" + o.key + "' is missing");
    if (tensor->array.dtype != o.dtype || tensor->array.shape != o.shape) {
      Bad(message, "observation '" + o.key + "' is " + DTypeName(tensor->array.dtype) + " " +
                       ShapeString(tensor->array.shape) + ", the robot declared " + DTypeName(o.dtype) + " " +
                       ShapeString(o.shape));
    }
    for (size_t i = 0; i < tensor->array.f32.size(); ++i) {
      if (!std::isfinite(tensor->array.f32[i])) {
        Bad(message, "observation '" + o.key + "' element " + std::to_string(i) + " is not finite");
      }
    }
    observation[o.key] = std::move(tensor->array);
  }
  return observation;
}

Frame EncodeResetResult(ResetReply reply) {
  Frame frame;
  frame.type = MessageType::kResetResult;
  frame.meta = {{"info", reply.result.info.is_object() ? reply.result.info : nlohmann::json::object()},
                {"t_observation", reply.t_observation}};
  ObservationToFrame(std::move(reply.result.observation), frame);
  return frame;
}

ResetReply ParseResetResult(Frame frame, const EnvSpec& spec) {
  ExpectType(frame, MessageType::kResetResult);
  ResetReply reply;
  reply.result.observation = ObservationFromFrame(frame, spec, "reset_result");
  reply.result.info = ObjectField(frame.meta, "info", "reset_result");
  reply.t_observation = NumberField(frame.meta, "t_observation", "reset_result");
  return reply;
}

Frame EncodeStep(const std::vector<float>& action, const ActionSpec& spec, int64_t index) {
  if (int(action.size()) != spec.dim()) {
    Fail(ExitCode::kUsage, "refusing to send an action of " + std::to_string(action.size()) +
                               " components to a robot that takes " + std::to_string(spec.dim()));
  }
  for (size_t i = 0; i < action.size(); ++i) {
    if (!std::isfinite(action[i])) {
      Fail(ExitCode::kUsage, "refusing to send a non-finite action (component " + std::to_string(i) + ")");
    }
  }
  Frame frame;
  frame.type = MessageType::kStep;
  frame.meta = {{"index", index}};
  frame.tensors.push_back({"action", Array::FromFloats(action)});
  return frame;
}

std::vector<float> ParseStep(const Frame& frame, const ActionSpec& spec) {
  ExpectType(frame, MessageType::kStep);
  return ActionTensor(frame, "action", spec, "step");
}

Frame EncodeStepResult(StepReply reply) {
  Frame frame;
  frame.type = MessageType::kStepResult;
  frame.meta = {{"reward", reply.result.reward},
                {"terminated", reply.result.terminated},
                {"truncated", reply.result.truncated},
                {"interrupted", reply.interrupted},
                {"info", reply.result.info.is_object() ? reply.result.info : nlohmann::json::object()},
                {"t_observation", reply.t_observation},
                {"t_action", reply.t_action}};
  ObservationToFrame(std::move(reply.result.observation), frame);
  frame.tensors.push_back({"applied_action", Array::FromFloats(reply.applied_action)});
  return frame;
}

StepReply ParseStepResult(Frame frame, const EnvSpec& spec) {
  constexpr const char* kMsg = "step_result";
  ExpectType(frame, MessageType::kStepResult);
  StepReply reply;
  reply.result.observation = ObservationFromFrame(frame, spec, kMsg);
  reply.result.reward = NumberField(frame.meta, "reward", kMsg);
  if (!(std::fabs(reply.result.reward) <= std::numeric_limits<float>::max())) {
    Bad(kMsg, "'reward' " + frame.meta["reward"].dump() + " is not a finite float32");
  }
  const nlohmann::json& terminated = Field(frame.meta, "terminated", kMsg);
  const nlohmann::json& truncated = Field(frame.meta, "truncated", kMsg);
  if (!terminated.is_boolean() || !truncated.is_boolean()) Bad(kMsg, "'terminated'/'truncated' are not true or false");
  reply.result.terminated = terminated.get<bool>();
  reply.result.truncated = truncated.get<bool>();
  reply.interrupted = BoolField(frame.meta, "interrupted", kMsg, false);
  reply.result.info = ObjectField(frame.meta, "info", kMsg);
  reply.t_observation = NumberField(frame.meta, "t_observation", kMsg);
  reply.t_action = NumberField(frame.meta, "t_action", kMsg);
  reply.applied_action = ActionTensor(frame, "applied_action", spec.action, kMsg);
  return reply;
}

Frame EncodeHold(const std::string& reason) {
  Frame frame;
  frame.type = MessageType::kHold;
  frame.meta = {{"reason", reason}};
  return frame;
}

Frame EncodeClose() {
  Frame frame;
  frame.type = MessageType::kClose;
  return frame;
}

Frame EncodePing() {
  Frame frame;
  frame.type = MessageType::kPing;
  return frame;
}

Frame EncodePong(double t_server) {
  Frame frame;
  frame.type = MessageType::kPong;
  frame.meta = {{"t_server", t_server}};
  return frame;
}

double ParsePong(const Frame& frame) {
  ExpectType(frame, MessageType::kPong);
  return NumberField(frame.meta, "t_server", "pong");
}

Frame EncodeError(const ErrorMessage& error) {
  Frame frame;
  frame.type = MessageType::kError;
  frame.meta = {{"code", error.code}, {"message", error.message}, {"fatal", error.fatal}};
  return frame;
}

ErrorMessage ParseError(const Frame& frame) {
  ExpectType(frame, MessageType::kError);
  ErrorMessage error;
  error.code = StringField(frame.meta, "code", "error");
  error.message = StringField(frame.meta, "message", "error");
  error.fatal = BoolField(frame.meta, "fatal", "error", true);
  return error;
}

}  // namespace perpetua::robot
