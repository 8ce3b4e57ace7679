// Client-side settings for a remote robot (EnvConfig::robot, flags
// --robot.*). Only used when the env name is a robot address (tcp://, unix://).
// All are settings of this machine's connection (FieldScope::kLocal: never
// stored in datasets); the token is secret (never printed or saved).
#pragma once

#include <string>

#include "common/config.h"

namespace perpetua {

// The robot's shared secret, --robot.token in every tool (collect, eval,
// train, rl-robot serve and ping): secret, never printed or saved.
inline void VisitRobotToken(ConfigVisitor& v, std::string& token) {
  v.Field("token", token, "shared secret for the robot; empty = $PERPETUA_ROBOT_TOKEN or none",
          FieldScope::kSecret);
}

// The group --robot.* of a tool whose only robot setting is the token
// (rl-robot serve and ping).
struct RobotTokenConfig {
  std::string token;  // "" = $PERPETUA_ROBOT_TOKEN (if set) or none
  void Visit(ConfigVisitor& v) { VisitRobotToken(v, token); }
};

struct RobotClientConfig {
  std::string token;             // shared secret; "" = $PERPETUA_ROBOT_TOKEN (if set) or none
  double connect_timeout_s = 5;  // connecting and the hello/welcome handshake
  double reset_timeout_s = 60;   // a reset (the robot may drive home first)
  double step_timeout_s = 5;     // a step's answer; past it the episode ends truncated
  double watchdog_s = 1.0;       // no step for this long in an open episode: send hold (0 = off)
  double reconnect_s = 30;       // after a lost connection, keep retrying (backoff) this long at the next reset
  bool pace = true;              // send steps no faster than the robot's declared control rate
  int max_message_mb = 64;       // largest frame accepted from the robot

  void Visit(ConfigVisitor& v) {
    VisitRobotToken(v, token);
    v.Field("connect_timeout_s", connect_timeout_s, "seconds to connect and shake hands",
            FieldScope::kLocal);
    v.Field("reset_timeout_s", reset_timeout_s, "seconds a reset may take",
            FieldScope::kLocal);
    v.Field("step_timeout_s", step_timeout_s, "seconds a step may take; then the episode ends truncated",
            FieldScope::kLocal);
    v.Field("watchdog_s", watchdog_s, "send hold when no step comes for this long mid-episode (0 = off)",
            FieldScope::kLocal);
    v.Field("reconnect_s", reconnect_s, "seconds of reconnection attempts (with backoff) after a loss",
            FieldScope::kLocal);
    v.Field("pace", pace, "pace steps at the robot's declared control rate",
            FieldScope::kLocal);
    v.Field("max_message_mb", max_message_mb, "largest message accepted from the robot, MiB",
            FieldScope::kLocal);
  }
};

}  // namespace perpetua
