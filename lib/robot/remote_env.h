// A robot behind the robot protocol (docs/protocol.md), as an Env.
//
// MakeEnv returns a RemoteEnv for EnvConfig names "tcp://HOST:PORT" and
// "unix:///PATH". The constructor connects and shakes hands; spec() is the
// robot's WELCOME (name = the address; env_args = this config plus the
// robot's own under "robot"). Driven by one thread, like every Env; a
// watchdog thread of its own sends HOLD when that thread stalls.
//
// Safety and failure, client side:
//  * Actions leave clipped to the declared bounds (Env::Step), finite and of
//    the declared size (EncodeStep refuses others).
//  * Watchdog: in an open episode, no step for config.robot.watchdog_s
//    seconds (policy or trainer stalled) sends one HOLD and logs a warning.
//  * A step unanswered within step_timeout_s, or a connection lost
//    mid-episode, ends the episode as truncated: the last observation is
//    repeated, reward 0, info {"robot_lost": true, "error": "..."} and a
//    warning logged. The next Reset reconnects with exponential backoff
//    (0.1 s doubling to 2 s) for up to reconnect_s seconds, then throws
//    Error(kEnvFailure).
//  * A robot-reported interruption (e-stop, a person) ends the episode as
//    truncated with info {"interrupted": true}; RunEpisode stores it in the
//    episode metadata (interrupted), apart from failures.
//  * Pacing: with a declared control rate and config.robot.pace, steps are
//    sent no faster than that rate. Every step's info["robot"] has the
//    applied action, the robot's timestamps and the round trip; the last
//    step's info["robot"]["episode"] has the achieved rate and jitter.
//  * Errors: unreachable robot, failed handshake, version mismatch, wrong
//    token, a malformed reply, a fatal ERROR or a failed reset throw
//    Error(kEnvFailure) with one line naming the address.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "env/env.h"
#include "env/env_config.h"
#include "robot/frame.h"
#include "robot/protocol.h"
#include "robot/transport.h"

namespace perpetua::robot {

class RemoteEnv : public Env {
 public:
  // Connects to config.name (see the file comment). Throws Error(kUsage) for
  // a malformed address, Error(kEnvFailure) if the robot cannot be reached
  // or refuses the handshake.
  explicit RemoteEnv(const EnvConfig& config);
  // Sends CLOSE (best effort) and stops the watchdog.
  ~RemoteEnv() override;

  const EnvSpec& spec() const override { return spec_; }

  // HOLD messages the watchdog has sent since construction.
  int64_t holds_sent() const { return holds_sent_.load(); }
  // Successful (re)connections since construction (1 after the constructor).
  int connections() const { return connections_; }

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override;
  StepResult DoStep(const std::vector<float>& action) override;

 private:
  using Clock = std::chrono::steady_clock;
  class RequestScope;

  // Connects and shakes hands once; throws on failure.
  void Connect();
  // Connects with exponential backoff for up to reconnect_s seconds.
  void Reconnect();
  // Drops the connection after sending HOLD and CLOSE (best effort).
  void Drop();
  // Sends `request`, waits for the reply; an ERROR reply throws
  // Error(kEnvFailure) (after dropping the connection if fatal).
  Frame Request(const Frame& request, MessageType expected, double timeout_s);
  // Sends under the send lock.
  void SendLocked(const Frame& frame, double timeout_s);
  void WatchdogLoop();
  // Ends the episode after a lost/timed-out/refused step (see the file comment).
  StepResult LostStep(const std::string& why, const char* flag);
  // Marks the episode closed and adds its pacing statistics to info["robot"]["episode"].
  void EndEpisode(nlohmann::json& info);

  EnvConfig config_;
  Address address_;
  std::string token_;
  FrameLimits limits_;
  EnvSpec spec_;

  std::mutex send_mutex_;  // guards connection_'s sending side and its replacement
  Connection connection_;
  int connections_ = 0;

  // Episode state (driving thread).
  Observation last_observation_;
  int64_t step_index_ = 0;
  std::vector<double> send_times_;   // steady seconds of each step sent this episode
  double round_trip_total_s_ = 0.0;  // summed step round trips this episode
  int64_t holds_at_reset_ = 0;       // holds_sent_ when the episode began
  Clock::time_point next_send_;      // pacing: earliest time of the next step

  // Watchdog state.
  std::mutex watch_mutex_;
  std::condition_variable watch_wake_;
  bool episode_open_ = false;   // between a reset reply and the episode's end
  bool in_request_ = false;     // the driving thread is inside DoStep/DoReset
  bool hold_sent_ = false;      // one HOLD per stall
  Clock::time_point last_activity_;
  bool stopping_ = false;
  std::atomic<int64_t> holds_sent_{0};
  std::thread watchdog_;
};

// What `rl-robot ping` prints: the robot's specs as JSON, the protocol
// version and round trips of `count` PING/PONG exchanges (min/mean/max ms)
// with the estimated clock offset of the robot. Throws as RemoteEnv does.
nlohmann::json PingRobot(const std::string& address, const std::string& token, int count,
                         double timeout_s);

}  // namespace perpetua::robot
