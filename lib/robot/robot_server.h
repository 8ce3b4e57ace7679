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
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/config.h"
#include "env/env.h"
#include "env/env_config.h"
#include "robot/frame.h"
#include "robot/transport.h"

namespace perpetua::robot {

struct RobotServerOptions {
  std::string listen = "tcp://127.0.0.1:5555";  // tcp://HOST:PORT (port 0: any free) or unix:///PATH
  std::string token;                            // "" = none (then only loopback/unix is allowed)
  double io_timeout_s = 10;                     // reading the rest of a started frame, writing a reply
  FrameLimits limits;                           // message size bounds
};

class RobotServer {
 public:
  using EnvFactory = std::function<std::unique_ptr<Env>()>;

  // Checks the options, binds the address and builds the env with `make_env`
  // (in the calling thread: Serve must run in the same thread, as renderers
  // bind GL contexts to threads). Throws Error(kUsage) for a non-loopback
  // address without a token or a malformed address, TransportError if the
  // address cannot be bound, and whatever `make_env` throws.
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

 private:
  struct Session;
  // Handles one frame of the session; returns false when the session ends.
  bool Handle(Session& session, const Frame& frame);
  void RefuseBusy(Connection connection);

  RobotServerOptions options_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Env> env_;
  std::atomic<int64_t> sessions_{0};
  std::atomic<int64_t> holds_{0};
  std::atomic<int64_t> steps_{0};
};

// The `rl-robot serve` settings.
struct ServeConfig {
  EnvConfig env;                                // the cell served: --env, --objects, --cell.*
  CellFlags cell;                               // (the view that binds --cell.*)
  std::string listen = "tcp://127.0.0.1:5555";  // where to listen
  std::string token;                            // "" = $PERPETUA_ROBOT_TOKEN or none
  int max_message_mb = 64;                      // largest message accepted

  void Visit(ConfigVisitor& v);
};

// `rl-robot serve`: serves the cell until SIGINT/SIGTERM, printing the bound
// address on stdout once it accepts connections. Returns kInterrupted when
// stopped by a signal. `make_env` builds the served cell from config.env
// (env_factory/make_env.h's MakeEnv: the factory sits above robot/).
ExitCode RunServe(const ServeConfig& config,
                  const std::function<std::unique_ptr<Env>(const EnvConfig&)>& make_env);

}  // namespace perpetua::robot
