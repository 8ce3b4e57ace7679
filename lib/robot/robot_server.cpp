#include "robot/robot_server.h"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/config.h"
#include "common/log.h"
#include "common/signals.h"
#include "perpetua/version.h"
#include "robot/protocol.h"
#include "robot/robot_token.h"

namespace perpetua::robot {
namespace {

// Peers remembered for the auth lockout; beyond this, expired entries go first, then the oldest name.
constexpr size_t kMaxLockouts = 1024;
// Seconds after its lockout ends that a peer's failures are forgotten.
constexpr double kForgetLockoutS = 600;

FrameLimits PreAuth(FrameLimits limits) {
  limits.max_frame_bytes = std::min(limits.max_frame_bytes, kPreAuthFrameBytes);
  limits.max_json_bytes = std::min(limits.max_json_bytes, kPreAuthFrameBytes);
  return limits;
}

}  // namespace

void ServerTimers::Visit(ConfigVisitor& v) {
  v.Field("hello_timeout_s", hello_timeout_s, "seconds a new connection has to send a valid hello");
  v.Field("io_timeout_s", io_timeout_s, "seconds to complete a started frame or send a reply");
  v.Field("idle_timeout_s", idle_timeout_s, "a session without a valid message for this many seconds is closed");
  v.Field("watchdog_s", watchdog_s, "no step for this many seconds: the robot holds (>= two control periods)");
  v.Field("keepalive_s", keepalive_s, "TCP keepalive: idle seconds before probing a silent client (1..3600)");
  v.Field("auth_lockout_s", auth_lockout_s,
          "seconds a peer is refused after a failed authentication, doubled per failure (max 60)");
}

struct RobotServer::Session {
  Connection connection;
  FrameReader reader;
  bool greeted = false;         // HELLO accepted
  bool episode_open = false;    // a RESET answered and the episode not ended
  double opened_s = 0.0;        // steady seconds of the accept
  double last_message_s = 0.0;  // steady seconds of the last valid message
};

RobotServer::RobotServer(const RobotServerOptions& options, const EnvFactory& make_env) : options_(options) {
  const Address address = ParseAddress(options.listen);
  if (!address.IsLoopback() && options.token.empty()) {
    Fail(ExitCode::kUsage, "--listen " + options.listen +
                               " is not a loopback address: give --robot.token (or $PERPETUA_ROBOT_TOKEN) so that "
                               "only clients knowing it can drive the robot");
  }
  const ServerTimers& t = options.timers;
  if (!(t.hello_timeout_s > 0 && t.io_timeout_s > 0 && t.idle_timeout_s > 0 && t.watchdog_s > 0)) {
    Fail(ExitCode::kUsage, "--hello-timeout-s, --io-timeout-s, --idle-timeout-s and --watchdog-s must be > 0");
  }
  if (t.keepalive_s < 1 || t.keepalive_s > 3600) Fail(ExitCode::kUsage, "--keepalive-s must be in 1..3600");
  if (!(t.auth_lockout_s >= 0 && t.auth_lockout_s <= kMaxAuthLockoutS)) {
    Fail(ExitCode::kUsage, "--auth-lockout-s must be in 0..60");
  }
  env_ = make_env();
  const double hz = env_->spec().control_hz;
  if (hz > 0 && t.watchdog_s < 2.0 / hz) {
    Fail(ExitCode::kUsage, "--watchdog-s " + FixedText(t.watchdog_s, 3) + " is shorter than two control periods of " +
                               env_->spec().name + " (" + FixedText(hz, 1) + " Hz): it would hold between steps");
  }
  listener_ = std::make_unique<Listener>(address);
}

RobotServer::~RobotServer() = default;

const Address& RobotServer::address() const { return listener_->address(); }

void RobotServer::Refuse(Connection connection, const std::string& code, const std::string& message) {
  try {
    connection.SendFrame(EncodeError({code, message, true}), options_.limits, 0.2);
  } catch (const std::exception&) {
    // The refused client left already.
  }
}

void RobotServer::HoldRobot(const std::string& why) {
  if (holding_) return;
  holding_ = true;  // also on failure: one attempt per stall, not one per poll
  try {
    env_->Hold();
    ++holds_applied_;
    LogInfo("holding: " + why);
  } catch (const std::exception& e) {
    LogWarning("the robot could not hold (" + why + "): " + e.what());
  }
}

double RobotServer::LockedOutFor(const std::string& host, double now) const {
  const auto it = lockouts_.find(host);
  return it == lockouts_.end() ? 0.0 : std::max(0.0, it->second.until_s - now);
}

void RobotServer::RecordAuth(const std::string& host, bool ok, double now) {
  if (ok) {
    lockouts_.erase(host);
    return;
  }
  if (lockouts_.size() >= kMaxLockouts && !lockouts_.count(host)) {
    for (auto it = lockouts_.begin(); it != lockouts_.end();) it = it->second.until_s < now ? lockouts_.erase(it) : std::next(it);
    if (lockouts_.size() >= kMaxLockouts) lockouts_.erase(lockouts_.begin());
  }
  Lockout& lockout = lockouts_[host];
  if (now > lockout.until_s + kForgetLockoutS) lockout.failures = 0;  // an old failure no longer counts
  lockout.failures = std::min(lockout.failures + 1, 30);
  const double seconds = std::min(kMaxAuthLockoutS, options_.timers.auth_lockout_s * std::ldexp(1.0, lockout.failures - 1));
  lockout.until_s = now + seconds;
  LogWarning("peer " + host + ": " + std::to_string(lockout.failures) + " failed authentication(s); refused for " +
             FixedText(seconds, 2) + " s");
}

bool RobotServer::Handle(Session& session, const Frame& frame) {
  const double io = options_.timers.io_timeout_s;
  auto reply = [&](const Frame& answer) { session.connection.SendFrame(answer, options_.limits, io); };
  auto refuse = [&](const std::string& code, const std::string& message, bool fatal) {
    reply(EncodeError({code, message, fatal}));
    return !fatal;
  };
  if (!session.greeted) {
    if (frame.type != MessageType::kHello) return refuse("bad_request", "the first message must be hello", true);
    const HelloMessage hello = ParseHello(frame);
    if (!options_.token.empty()) {
      const bool ok = SameToken(hello.token, options_.token);
      RecordAuth(session.connection.peer_host(), ok, SteadySeconds());
      if (!ok) {
        LogWarning("refused client '" + hello.client.substr(0, 64) + "': wrong or missing token");
        return refuse("auth", "wrong or missing token", true);
      }
    }
    session.greeted = true;
    reply(EncodeWelcome(env_->spec(), std::string("perpetua rl-robot ") + PERPETUA_VERSION));
    LogInfo("client '" + hello.client.substr(0, 64) + "' connected");
    return true;
  }
  switch (frame.type) {
    case MessageType::kReset: {
      const ResetRequest request = ParseReset(frame);
      ResetReply answer;
      try {
        session.episode_open = false;
        answer.result = env_->Reset(request.seed, request.options);
        holding_ = false;
        last_motion_s_ = SteadySeconds();
      } catch (const Error& e) {
        const bool fatal = e.code() == ExitCode::kEnvFailure || e.code() == ExitCode::kInternal;
        return refuse(fatal ? "robot_failure" : "bad_request", e.what(), fatal);
      }
      answer.t_observation = UnixSeconds();
      session.episode_open = true;
      reply(EncodeResetResult(std::move(answer)));
      return true;
    }
    case MessageType::kStep: {
      if (!session.episode_open) return refuse("no_episode", "step without an open episode: reset first", false);
      std::vector<float> action;
      try {
        action = ParseStep(frame, env_->spec().action);
      } catch (const ProtocolError& e) {
        return refuse("bad_action", e.what(), false);
      }
      StepReply answer;
      answer.applied_action = action;
      ClipAction(env_->spec().action, answer.applied_action);  // the robot's own clipping
      answer.t_action = UnixSeconds();
      try {
        answer.result = env_->Step(answer.applied_action);
        holding_ = false;
        last_motion_s_ = SteadySeconds();
      } catch (const Error& e) {
        session.episode_open = false;
        return refuse("robot_failure", e.what(), true);
      }
      answer.t_observation = UnixSeconds();
      // A served env reports an interruption with info {"interrupted": true}.
      const nlohmann::json& info = answer.result.info;
      answer.interrupted = info.is_object() && info.value("interrupted", false) == true;
      if (answer.interrupted) answer.result.truncated = true;
      session.episode_open = !(answer.result.terminated || answer.result.truncated);
      ++steps_;
      reply(EncodeStepResult(std::move(answer)));
      return true;
    }
    case MessageType::kHold: {
      ++holds_;
      const std::string reason = frame.meta.value("reason", nlohmann::json("")).is_string()
                                     ? frame.meta.value("reason", std::string())
                                     : std::string();
      HoldRobot("requested (" + reason.substr(0, 120) + ")");
      return true;
    }
    case MessageType::kClose:
      return false;
    case MessageType::kPing:
      reply(EncodePong(UnixSeconds()));
      return true;
    case MessageType::kHello:
      return refuse("bad_request", "hello sent twice", true);
    default:
      return refuse("bad_request", std::string("a client does not send ") + MessageTypeName(frame.type), true);
  }
}

void RobotServer::EndSession(std::optional<Session>& session, const std::string& why) {
  if (session->episode_open) LogInfo("session ended mid-episode (" + why + ")");
  session.reset();
  HoldRobot("session ended (" + why + ")");
}

void RobotServer::Receive(std::optional<Session>& session) {
  try {
    // Every frame already here (a HOLD and a CLOSE often arrive together).
    while (session) {
      const FrameLimits limits = session->greeted ? options_.limits : PreAuth(options_.limits);
      std::optional<Frame> frame = session->reader.Poll(session->connection, limits);
      if (!frame) return;
      session->last_message_s = SteadySeconds();
      if (!Handle(*session, *frame)) EndSession(session, "closed");
    }
  } catch (const TransportError& e) {
    EndSession(session, e.what());
  } catch (const ProtocolError& e) {
    LogWarning(std::string("bad message from the client: ") + e.what() + "; session ended");
    try {
      session->connection.SendFrame(EncodeError({e.error_code(), e.what(), true}), options_.limits, 0.2);
    } catch (const std::exception&) {
      // The client is gone; the session ends either way.
    }
    EndSession(session, e.what());
  }
}

void RobotServer::CheckDeadlines(std::optional<Session>& session, double now) {
  const ServerTimers& t = options_.timers;
  std::string why;
  if (!session->greeted && now - session->opened_s > t.hello_timeout_s) {
    why = "no valid hello within " + FixedText(t.hello_timeout_s, 2) + " s";
  } else if (session->greeted && now - session->last_message_s > t.idle_timeout_s) {
    why = "no message for " + FixedText(t.idle_timeout_s, 2) + " s";
  } else if (session->reader.in_frame() && now - session->reader.frame_started_s() > options_.timers.io_timeout_s) {
    why = "a frame stalled for " + FixedText(options_.timers.io_timeout_s, 2) + " s";
  }
  if (why.empty()) return;
  LogWarning(session->connection.peer() + ": " + why + "; session closed");
  EndSession(session, why);
}

void RobotServer::AcceptOne(std::optional<Session>& session) {
  std::optional<Connection> connection = listener_->Accept(0);
  if (!connection) return;
  const double now = SteadySeconds();
  const double locked = options_.token.empty() ? 0.0 : LockedOutFor(connection->peer_host(), now);
  if (locked > 0) {
    Refuse(std::move(*connection), "auth",
           "too many failed authentications from this address; try again in " + FixedText(locked, 2) + " s");
  } else if (session) {
    Refuse(std::move(*connection), "busy", "another client holds this robot; one session at a time");
  } else {
    connection->EnableKeepAlive(options_.timers.keepalive_s, 1, 3);
    session.emplace();
    session->connection = std::move(*connection);
    session->opened_s = session->last_message_s = now;
    ++sessions_;
  }
}

void RobotServer::Serve(const std::function<bool()>& stop) {
  std::optional<Session> session;
  while (!stop()) {
    // Wake for the watchdog's deadline, and at least every 50 ms (stop, session deadlines).
    double wait_s = 0.05;
    if (!holding_) wait_s = std::min(wait_s, last_motion_s_ + options_.timers.watchdog_s - SteadySeconds());
    pollfd fds[2];
    int n = 0;
    if (session) fds[n++] = {session->connection.fd(), POLLIN, 0};
    const int listen_index = n;
    fds[n++] = {listener_->fd(), POLLIN, 0};
    const int rc = ::poll(fds, nfds_t(n), std::max(0, int(wait_s * 1000.0) + 1));
    // The session first: a client that closed and reconnects is seen leaving first.
    if (rc > 0 && session && fds[0].revents != 0) Receive(session);
    const double now = SteadySeconds();
    if (session) CheckDeadlines(session, now);
    if (!holding_ && now - last_motion_s_ >= options_.timers.watchdog_s) {
      HoldRobot("watchdog: no step for " + FixedText(now - last_motion_s_, 2) + " s");
    }
    if (rc > 0 && fds[listen_index].revents != 0) AcceptOne(session);
  }
  if (session) EndSession(session, "the server stops");
  HoldRobot("the server stops");
}

void ServeConfig::Visit(ConfigVisitor& v) {
  v.Field("env", env.name, "cell to serve: grasp | push | door | pendulum");
  v.Field("objects", env.objects, "grasp object set: train | heldout | comma-separated ids");
  cell.env = &env;
  v.Group("cell", cell, "cell settings");
  v.Field("listen", listen, "tcp://HOST:PORT (port 0: any free port) or unix:///PATH; loopback unless --robot.token");
  v.Group("robot", robot, "the robot's shared secret, which clients must send");
  v.Field("max_message_mb", max_message_mb, "largest message accepted from a client, MiB");
  timers.Visit(v);
}

ExitCode RunServe(const ServeConfig& config,
                  const std::function<std::unique_ptr<Env>(const EnvConfig&)>& make_env) {
  if (IsRobotAddress(config.env.name)) {
    Fail(ExitCode::kUsage, "--env " + config.env.name + ": serve a simulated cell, not another robot");
  }
  if (config.max_message_mb < 1 || config.max_message_mb > 1024) {
    Fail(ExitCode::kUsage, "--max-message-mb must be in 1..1024");
  }
  RobotServerOptions options;
  options.listen = config.listen;
  options.token = ResolveRobotToken(config.robot.token);
  options.timers = config.timers;
  options.limits.max_frame_bytes = uint32_t(config.max_message_mb) << 20;
  RobotServer server(options, [&] { return make_env(config.env); });
  const std::string address = server.address().ToString();
  LogInfo("serving cell " + server.env().spec().name + " on " + address +
          (options.token.empty() ? "" : " (token required)"));
  if (std::printf("%s\n", address.c_str()) < 0 || std::fflush(stdout) != 0) {
    Fail(ExitCode::kIoError, "cannot write the address to stdout");
  }
  server.Serve([] { return StopRequested(); });
  LogInfo("stopped after " + std::to_string(server.sessions()) + " session(s), " +
          std::to_string(server.steps_served()) + " steps");
  return ExitCode::kInterrupted;
}

}  // namespace perpetua::robot
