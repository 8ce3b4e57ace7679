#include "robot/robot_server.h"

#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/log.h"
#include "common/signals.h"
#include "perpetua/version.h"
#include "robot/protocol.h"

namespace perpetua::robot {
namespace {

// Compares without an early exit, so the time taken does not leak the token.
bool SameToken(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

struct RobotServer::Session {
  Connection connection;
  bool greeted = false;       // HELLO accepted
  bool episode_open = false;  // a RESET answered and the episode not ended
};

RobotServer::RobotServer(const RobotServerOptions& options, const EnvFactory& make_env) : options_(options) {
  const Address address = ParseAddress(options.listen);
  if (!address.IsLoopback() && options.token.empty()) {
    Fail(ExitCode::kUsage, "--listen " + options.listen +
                               " is not a loopback address: give --token (or $PERPETUA_ROBOT_TOKEN) so that "
                               "only clients knowing it can drive the robot");
  }
  env_ = make_env();
  listener_ = std::make_unique<Listener>(address);
}

RobotServer::~RobotServer() = default;

const Address& RobotServer::address() const { return listener_->address(); }

void RobotServer::RefuseBusy(Connection connection) {
  try {
    connection.SendFrame(EncodeError({"busy", "another client holds this robot; one session at a time", true}),
                         options_.limits, 0.2);
  } catch (const std::exception&) {
    // The refused client left already.
  }
}

bool RobotServer::Handle(Session& session, const Frame& frame) {
  const double io = options_.io_timeout_s;
  auto reply = [&](const Frame& answer) { session.connection.SendFrame(answer, options_.limits, io); };
  auto refuse = [&](const std::string& code, const std::string& message, bool fatal) {
    reply(EncodeError({code, message, fatal}));
    return !fatal;
  };
  if (!session.greeted) {
    if (frame.type != MessageType::kHello) return refuse("bad_request", "the first message must be hello", true);
    const HelloMessage hello = ParseHello(frame);
    if (!options_.token.empty() && !SameToken(hello.token, options_.token)) {
      LogWarning("refused client '" + hello.client.substr(0, 64) + "': wrong or missing token");
      return refuse("auth", "wrong or missing token", true);
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
      LogInfo("hold requested (" + reason.substr(0, 120) + "): the cell waits for the next step");
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

void RobotServer::Serve(const std::function<bool()>& stop) {
  std::optional<Session> session;
  const auto end_session = [&](const std::string& why) {
    if (session->episode_open) LogInfo("session ended mid-episode (" + why + "): holding");
    session.reset();
  };
  while (!stop()) {
    pollfd fds[2];
    int n = 0;
    if (session) fds[n++] = {session->connection.fd(), POLLIN, 0};
    const int listen_index = n;
    fds[n++] = {listener_->fd(), POLLIN, 0};
    const int rc = ::poll(fds, nfds_t(n), 50);
    if (rc <= 0) continue;
    // The session first: a client that closed and reconnects is seen leaving first.
    if (session && fds[0].revents != 0) {
      try {
        // Every frame already here (a HOLD and a CLOSE often arrive together).
        do {
          const Frame frame = session->connection.ReceiveFrame(options_.limits, options_.io_timeout_s);
          if (!Handle(*session, frame)) end_session("closed");
        } while (session && session->connection.WaitReadable(0));
      } catch (const TransportError& e) {
        end_session(e.what());
      } catch (const ProtocolError& e) {
        LogWarning(std::string("bad message from the client: ") + e.what() + "; session ended");
        try {
          session->connection.SendFrame(EncodeError({e.error_code(), e.what(), true}), options_.limits, 0.2);
        } catch (const std::exception&) {
          // The client is gone; the session ends either way.
        }
        end_session(e.what());
      }
    }
    if (fds[listen_index].revents != 0) {
      std::optional<Connection> connection = listener_->Accept(0);
      if (!connection) continue;
      if (session) {
        RefuseBusy(std::move(*connection));
      } else {
        session.emplace();
        session->connection = std::move(*connection);
        ++sessions_;
      }
    }
  }
}

void ServeConfig::Visit(ConfigVisitor& v) {
  v.Field("env", env.name, "cell to serve: grasp | push | door | pendulum");
  v.Field("objects", env.objects, "grasp object set: train | heldout | comma-separated ids");
  cell.env = &env;
  v.Group("cell", cell, "cell settings");
  v.Field("listen", listen, "tcp://HOST:PORT (port 0: any free port) or unix:///PATH; loopback unless --token");
  v.Field("token", token, "shared secret clients must send; empty = $PERPETUA_ROBOT_TOKEN or none");
  v.Field("max_message_mb", max_message_mb, "largest message accepted from a client, MiB");
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
  options.token = config.token;
  if (options.token.empty()) {
    const char* from_env = std::getenv("PERPETUA_ROBOT_TOKEN");
    if (from_env) options.token = from_env;
  }
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
