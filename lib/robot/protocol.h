// The robot protocol's messages (docs/protocol.md, "Messages"): typed
// views of frames, encoded and checked by pure functions.
//
// Parse* functions check everything a peer could get wrong (missing or
// mistyped fields, observations of the wrong dtype or shape, actions of the
// wrong size or not finite) and throw ProtocolError naming the message and
// the field. Encode* functions never produce a frame their Parse* twin
// rejects; EncodeStep refuses (Error kUsage) an action that must not leave.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"  // UnixSeconds: the timestamps' clock
#include "env/env.h"
#include "robot/frame.h"

namespace perpetua::robot {

// HELLO: the client's first message.
struct HelloMessage {
  std::string client;  // "perpetua 0.1.0" or any name
  std::string token;   // shared secret; "" = none
};
Frame EncodeHello(const HelloMessage& hello);
HelloMessage ParseHello(const Frame& frame);

// WELCOME: the robot's specs. `server` names the server software.
// Observation bounds on the wire: uint8 [0, 255]; float32 unbounded (null).
Frame EncodeWelcome(const EnvSpec& spec, const std::string& server);
// The specs in the WELCOME (name, observations, action, control_hz,
// max_episode_steps, env_args); `server` receives the server's name.
EnvSpec ParseWelcome(const Frame& frame, std::string* server = nullptr);

// RESET.
struct ResetRequest {
  uint64_t seed = 0;
  nlohmann::json options = nlohmann::json::object();
};
Frame EncodeReset(const ResetRequest& reset);
ResetRequest ParseReset(const Frame& frame);

// RESET_RESULT: the first observation and the robot's info.
struct ResetReply {
  ResetResult result;
  double t_observation = 0.0;  // robot clock, unix seconds, when the observation was captured
};
// (By value: pass an rvalue and the arrays are moved, not copied.)
Frame EncodeResetResult(ResetReply reply);
ResetReply ParseResetResult(Frame frame, const EnvSpec& spec);

// STEP: `action` must have spec.action.dim() finite components (Error kUsage
// otherwise: such an action never leaves). `index` counts steps from 0.
Frame EncodeStep(const std::vector<float>& action, const ActionSpec& spec, int64_t index);
// The action of a STEP: float32 [A], finite (ProtocolError otherwise).
std::vector<float> ParseStep(const Frame& frame, const ActionSpec& spec);

// STEP_RESULT.
struct StepReply {
  StepResult result;                  // observation, reward, terminated, truncated, info
  std::vector<float> applied_action;  // (A) what the robot applied after its own clipping
  bool interrupted = false;           // an e-stop or a person stopped the episode (then truncated)
  double t_observation = 0.0;         // robot clock, unix seconds: observation captured
  double t_action = 0.0;              // robot clock, unix seconds: action applied
};
Frame EncodeStepResult(StepReply reply);
// Checks the observation (see ObservationFromFrame) and a reward that is a
// finite float32 (datasets store float32): ProtocolError otherwise.
StepReply ParseStepResult(Frame frame, const EnvSpec& spec);

// HOLD (no reply): stop moving and hold position until the next STEP or RESET.
Frame EncodeHold(const std::string& reason);
// CLOSE (no reply): the session ends; the server holds the robot.
Frame EncodeClose();
// PING / PONG: round-trip and clock-offset measurement.
Frame EncodePing();
Frame EncodePong(double t_server);
double ParsePong(const Frame& frame);

// ERROR: the server could not do what was asked.
struct ErrorMessage {
  std::string code;     // "version" | "auth" | "busy" | "bad_request" | "bad_action" |
                        // "no_episode" | "robot_failure" | "interrupted" | ...
  std::string message;  // one line for a person
  bool fatal = false;   // true: the server closes the connection after sending it
};
Frame EncodeError(const ErrorMessage& error);
ErrorMessage ParseError(const Frame& frame);

// The observation carried by `frame`'s "observation/<key>" tensors, checked
// against `spec` (every key present with its dtype and shape, no others,
// float32 elements finite: a robot's NaN or Inf is malformed data).
// The arrays are moved out of `frame`.
Observation ObservationFromFrame(Frame& frame, const EnvSpec& spec, const char* message);
// Moves `observation`'s arrays into `frame` as "observation/<key>" tensors.
void ObservationToFrame(Observation observation, Frame& frame);

}  // namespace perpetua::robot
