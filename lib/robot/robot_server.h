// Serving any Env over the robot protocol (docs/protocol.md), so simulated
// cells stand in for robots in every test of the remote path, and a C++
// robot driver can reuse this server by implementing Env.
//
// One session at a time, as a robot has one operator: a client that
// connects while another holds the session gets a fatal ERROR "busy". The
// server listens on loopback unless given a token (RobotServerOptions), and
// a client must then send that token in its HELLO.
//
// Each request is answered in order: HELLO -> WELCOME (or ERROR version /
// auth), RESET -> RESET_RESULT, STEP -> STEP_RESULT (the action checked and
// clipped to the bounds; the clipped one is reported as applied), PING ->
// PONG; HOLD and CLOSE have no answer. A malformed frame gets a fatal ERROR
// and the session ends; a request the env rejects (bad options, a step
// without an episode, a non-finite action) gets a recoverable ERROR; an env
// failure (Error kEnvFailure) a fatal one. The server itself never stops on
// a client's mistake.
//
// Safety on the server's side (docs/protocol.md, "The server's safety
// behaviour"); the loop never blocks on a client, so these timers run
// whatever the client does (silent, stalled mid-frame, gone without a word):
//  * Dead-man switch: no STEP or RESET answered for `watchdog_s` seconds,
//    a HOLD request, or the end of a session calls Env::Hold() (once; the
//    next STEP or RESET resumes).
//  * A connection that sends no valid HELLO within `hello_timeout_s`, or a
//    session without a valid message for `idle_timeout_s`, or a frame not
//    complete `io_timeout_s` after its first byte, is closed: the session
//    is free for the next client. TCP keepalive notices vanished peers.
//  * Before its HELLO is accepted a client may send frames of at most
//    kPreAuthFrameBytes (the server allocates no more for it).
//  * A failed authentication locks its peer address (the IP; all unix
//    socket clients share one) out for `auth_lockout_s`, doubled at each
//    consecutive failure up to kMaxAuthLockoutS; a locked-out peer's
//    connections get a fatal ERROR auth at once. Success clears the count,
//    and so do 10 minutes without a failure after the lockout ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "env/env.h"
#include "env/env_config.h"
#include "robot/frame.h"
#include "robot/transport.h"

namespace perpetua::robot {

// The largest frame (JSON + binary bytes) read from a client before its HELLO is accepted.
constexpr uint32_t kPreAuthFrameBytes = 64u << 10;
// The longest lockout after failed authentications, seconds.
constexpr double kMaxAuthLockoutS = 60.0;

// The server's timers (all seconds), as `rl-robot serve` flags.
struct ServerTimers {
  double hello_timeout_s = 5;   // a new connection must send a valid HELLO within this
  double io_timeout_s = 10;     // a started frame must be complete within this; writing a reply
  double idle_timeout_s = 60;   // a session without a valid message for this long is closed
  double watchdog_s = 1.0;      // no step for this long: the robot holds (at least two control periods)
  int keepalive_s = 5;          // TCP keepalive: probes after this idle time, 1 s apart, 3 unanswered = gone
  double auth_lockout_s = 1.0;  // lockout after a failed authentication, doubled per consecutive failure

  void Visit(ConfigVisitor& v);
};

struct RobotServerOptions {
  std::string listen = "tcp://127.0.0.1:5555";  // tcp://HOST:PORT (port 0: any free) or unix:///PATH
  std::string token;                            // "" = none (then only loopback/unix is allowed)
  ServerTimers timers;                          // hello deadline, frame and idle timeouts, watchdog, ...
  FrameLimits limits;                           // message size bounds (after the HELLO)
};

class RobotServer {
 public:
  using EnvFactory = std::function<std::unique_ptr<Env>()>;

  // Checks the options, binds the address and builds the env with `make_env`
  // (in the calling thread: Serve must run in the same thread, as renderers
  // bind GL contexts to threads). Throws Error(kUsage) for a non-loopback
  // address without a token, a malformed address or a timer out of range
  // (a watchdog shorter than two control periods of the env), TransportError
  // if the address cannot be bound, and whatever `make_env` throws.
  RobotServer(const RobotServerOptions& options, const EnvFactory& make_env);
  ~RobotServer();

  // The bound address (port 0 resolved).
  const Address& address() const;
  const Env& env() const { return *env_; }

  // Serves sessions until `stop()` returns true (polled every 50 ms).
  void Serve(const std::function<bool()>& stop);

  // Counters, readable from any thread.
  int64_t sessions() const { return sessions_.load(); }
  int64_t holds_received() const { return holds_.load(); }
  int64_t steps_served() const { return steps_.load(); }
  // Env::Hold() calls (watchdog, HOLD requests, ended sessions).
  int64_t holds_applied() const { return holds_applied_.load(); }

 private:
  struct Session;
  // Handles one frame of the session; returns false when the session ends.
  bool Handle(Session& session, const Frame& frame);
  // Reads and handles every frame that has arrived; ends the session on a
  // lost connection or a malformed frame.
  void Receive(std::optional<Session>& session);
  // Ends the session whose deadline passed (HELLO, idle, stalled frame).
  void CheckDeadlines(std::optional<Session>& session, double now);
  void EndSession(std::optional<Session>& session, const std::string& why);
  // Takes a pending connection: a new session, or a fatal ERROR (busy, locked out).
  void AcceptOne(std::optional<Session>& session);
  // Sends a fatal ERROR to a client that does not get a session.
  void Refuse(Connection connection, const std::string& code, const std::string& message);
  // Env::Hold() unless holding already; logs `why`.
  void HoldRobot(const std::string& why);
  // Auth lockout bookkeeping per peer host.
  double LockedOutFor(const std::string& host, double now) const;
  void RecordAuth(const std::string& host, bool ok, double now);

  struct Lockout {
    int failures = 0;     // consecutive failed authentications
    double until_s = 0;   // steady seconds until which the peer is refused
  };

  RobotServerOptions options_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Env> env_;
  bool holding_ = true;           // Env::Hold() applied and no step or reset since (true at start)
  double last_motion_s_ = 0.0;    // steady seconds of the last step or reset answered
  std::map<std::string, Lockout> lockouts_;  // by peer host, at most kMaxLockouts entries
  std::atomic<int64_t> sessions_{0};
  std::atomic<int64_t> holds_{0};
  std::atomic<int64_t> holds_applied_{0};
  std::atomic<int64_t> steps_{0};
};

// The `rl-robot serve` settings.
struct ServeConfig {
  EnvConfig env;                                // the cell served: --env, --objects, --cell.*
  CellFlags cell;                               // (the view that binds --cell.*)
  std::string listen = "tcp://127.0.0.1:5555";  // where to listen
  RobotTokenConfig robot;                       // --robot.token; "" = $PERPETUA_ROBOT_TOKEN or none
  int max_message_mb = 64;                      // largest message accepted
  ServerTimers timers;                          // --hello-timeout-s, --watchdog-s, ...

  void Visit(ConfigVisitor& v);
};

// `rl-robot serve`: serves the cell until SIGINT/SIGTERM, printing the bound
// address on stdout once it accepts connections. Returns kInterrupted when
// stopped by a signal. `make_env` builds the served cell from config.env
// (env_factory/make_env.h's MakeEnv: the factory sits above robot/).
ExitCode RunServe(const ServeConfig& config,
                  const std::function<std::unique_ptr<Env>(const EnvConfig&)>& make_env);

}  // namespace perpetua::robot
