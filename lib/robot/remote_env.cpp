#include "robot/remote_env.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/config.h"
#include "common/log.h"
#include "perpetua/version.h"
#include "robot/robot_token.h"

namespace perpetua::robot {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// An ERROR the robot sent in answer to a request.
class RefusedError : public Error {
 public:
  RefusedError(const std::string& message, bool fatal) : Error(ExitCode::kEnvFailure, message), fatal_(fatal) {}
  bool fatal() const { return fatal_; }

 private:
  bool fatal_;
};

// Sends HELLO on `connection` and returns the WELCOME. Throws Error(kEnvFailure)
// naming `name` on an ERROR reply, a malformed WELCOME or a timeout.
Frame Handshake(Connection& connection, const std::string& name, const std::string& token,
                const FrameLimits& limits, double timeout_s) {
  try {
    connection.SendFrame(EncodeHello({std::string("perpetua ") + PERPETUA_VERSION, token}), limits, timeout_s);
    Frame reply = connection.ReceiveFrame(limits, timeout_s);
    if (reply.type == MessageType::kError) {
      const ErrorMessage error = ParseError(reply);
      Fail(ExitCode::kEnvFailure, "robot " + name + " refused the connection: " + error.code + ": " + error.message);
    }
    ParseWelcome(reply);
    return reply;
  } catch (const ProtocolError& e) {
    Fail(ExitCode::kEnvFailure, "robot " + name + ": " + e.what());
  } catch (const TransportError& e) {
    if (e.reason() == TransportError::Reason::kTimeout) {
      Fail(ExitCode::kEnvFailure, "robot " + name + ": no answer to hello within " + FixedText(timeout_s, 1) +
                                      " s (is it a Perpetua robot server?)");
    }
    throw;
  }
}

bool SameSpecs(const EnvSpec& a, const EnvSpec& b) {
  if (a.observations.size() != b.observations.size()) return false;
  for (size_t i = 0; i < a.observations.size(); ++i) {
    const auto &x = a.observations[i], &y = b.observations[i];
    if (x.key != y.key || x.dtype != y.dtype || x.shape != y.shape) return false;
  }
  return a.action.low == b.action.low && a.action.high == b.action.high && a.control_hz == b.control_hz;
}

}  // namespace

RemoteEnv::RemoteEnv(const EnvConfig& config) : config_(config), address_(ParseAddress(config.name)) {
  const RobotClientConfig& r = config.robot;
  if (!(r.connect_timeout_s > 0 && r.reset_timeout_s > 0 && r.step_timeout_s > 0)) {
    Fail(ExitCode::kUsage, "--robot.connect-timeout-s, --robot.reset-timeout-s and --robot.step-timeout-s must be > 0");
  }
  if (!(r.watchdog_s >= 0) || !(r.reconnect_s >= 0)) {
    Fail(ExitCode::kUsage, "--robot.watchdog-s and --robot.reconnect-s must be >= 0");
  }
  if (r.max_message_mb < 1 || r.max_message_mb > 1024) {
    Fail(ExitCode::kUsage, "--robot.max-message-mb must be in 1..1024, got " + std::to_string(r.max_message_mb));
  }
  limits_.max_frame_bytes = uint32_t(r.max_message_mb) << 20;
  token_ = ResolveRobotToken(r.token);
  Connect();
  if (r.watchdog_s > 0) watchdog_ = std::thread([this] { WatchdogLoop(); });
}

RemoteEnv::~RemoteEnv() {
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    stopping_ = true;
  }
  watch_wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (connection_.is_open()) {
    try {
      connection_.SendFrame(EncodeClose(), limits_, 0.2);
    } catch (const std::exception&) {
      // The robot is gone already; nothing else to tell it.
    }
    connection_.Close();
  }
}

void RemoteEnv::Connect() {
  const std::string name = address_.ToString();
  Connection connection = Connection::Connect(address_, config_.robot.connect_timeout_s);
  const Frame welcome = Handshake(connection, name, token_, limits_, config_.robot.connect_timeout_s);
  std::string server;
  EnvSpec robot = ParseWelcome(welcome, &server);
  if (connections_ > 0) {
    if (!SameSpecs(robot, spec_)) {
      Fail(ExitCode::kEnvFailure, "robot " + name + " changed its specs on reconnection; restart the run");
    }
  } else {
    spec_ = robot;
    spec_.name = config_.name;
    if (config_.max_episode_steps > 0) spec_.max_episode_steps = std::min(spec_.max_episode_steps, config_.max_episode_steps);
    spec_.env_args = EnvConfigToArgs(config_);
    spec_.env_args["robot"] = {{"server", server}, {"name", robot.name}, {"env_args", robot.env_args}};
  }
  std::lock_guard<std::mutex> lock(send_mutex_);
  connection_ = std::move(connection);
  ++connections_;
}

void RemoteEnv::Reconnect() {
  const auto start = Clock::now();
  double delay = 0.1;
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    try {
      Connect();
      if (attempt > 1 || !last_error.empty()) {
        LogInfo("robot " + address_.ToString() + ": reconnected (attempt " + std::to_string(attempt) + ")");
      }
      return;
    } catch (const Error& e) {
      if (e.code() != ExitCode::kEnvFailure) throw;
      last_error = e.what();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed + delay > config_.robot.reconnect_s) {
      Fail(ExitCode::kEnvFailure, "robot " + address_.ToString() + ": could not reconnect within " +
                                      FixedText(config_.robot.reconnect_s, 1) + " s (" + std::to_string(attempt) +
                                      " attempts; last: " + last_error + ")");
    }
    if (attempt == 1) {
      LogWarning(last_error + "; retrying with backoff for up to " + FixedText(config_.robot.reconnect_s, 1) + " s");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    delay = std::min(2.0, delay * 2);
  }
}

void RemoteEnv::Drop() {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (!connection_.is_open()) return;
  try {
    connection_.SendFrame(EncodeHold("connection dropped by the client"), limits_, 0.05);
    connection_.SendFrame(EncodeClose(), limits_, 0.05);
  } catch (const std::exception&) {
    // Best effort: the connection is being dropped because it failed.
  }
  connection_.Close();
}

void RemoteEnv::SendLocked(const Frame& frame, double timeout_s) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  connection_.SendFrame(frame, limits_, timeout_s);
}

Frame RemoteEnv::Request(const Frame& request, MessageType expected, double timeout_s) {
  SendLocked(request, timeout_s);
  Frame reply = connection_.ReceiveFrame(limits_, timeout_s);
  if (reply.type == MessageType::kError) {
    const ErrorMessage error = ParseError(reply);
    if (error.fatal) Drop();
    throw RefusedError("robot " + address_.ToString() + " refused the " + MessageTypeName(request.type) + ": " +
                           error.code + ": " + error.message,
                       error.fatal);
  }
  if (reply.type != expected) {
    throw ProtocolError(std::string("answered ") + MessageTypeName(request.type) + " with " +
                        MessageTypeName(reply.type));
  }
  return reply;
}

// A request in flight: the watchdog leaves it alone; leaving records activity.
class RemoteEnv::RequestScope {
 public:
  RequestScope(RemoteEnv* env, bool closes_episode) : env_(env) {
    std::lock_guard<std::mutex> lock(env_->watch_mutex_);
    env_->in_request_ = true;
    if (closes_episode) env_->episode_open_ = false;
  }
  ~RequestScope() {
    std::lock_guard<std::mutex> lock(env_->watch_mutex_);
    env_->in_request_ = false;
    env_->last_activity_ = Clock::now();
    env_->hold_sent_ = false;
  }
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  RemoteEnv* env_;
};

ResetResult RemoteEnv::DoReset(uint64_t seed, const nlohmann::json& options) {
  RequestScope scope(this, /*closes_episode=*/true);
  const std::string name = address_.ToString();
  if (!connection_.is_open()) Reconnect();
  Frame frame;
  for (int attempt = 0;; ++attempt) {
    try {
      frame = Request(EncodeReset({seed, options}), MessageType::kResetResult, config_.robot.reset_timeout_s);
      break;
    } catch (const TransportError& e) {
      Drop();
      // A robot restarted between episodes: the old connection is dead, reconnect once.
      if (e.reason() == TransportError::Reason::kClosed && attempt == 0) {
        LogWarning(std::string(e.what()) + "; reconnecting");
        Reconnect();
        continue;
      }
      if (e.reason() == TransportError::Reason::kTimeout) {
        Fail(ExitCode::kEnvFailure, "robot " + name + ": no answer to reset within " +
                                        FixedText(config_.robot.reset_timeout_s, 1) + " s");
      }
      throw;
    } catch (const ProtocolError& e) {
      Drop();
      Fail(ExitCode::kEnvFailure, "robot " + name + ": " + e.what());
    }
  }
  ResetReply reply;
  try {
    reply = ParseResetResult(std::move(frame), spec_);
  } catch (const ProtocolError& e) {
    Drop();
    Fail(ExitCode::kEnvFailure, "robot " + name + ": " + e.what());
  }
  last_observation_ = reply.result.observation;
  step_index_ = 0;
  send_times_.clear();
  round_trip_total_s_ = 0.0;
  holds_at_reset_ = holds_sent_.load();
  next_send_ = Clock::now();
  reply.result.info["robot"] = {{"t_observation", reply.t_observation}};
  std::lock_guard<std::mutex> lock(watch_mutex_);
  episode_open_ = true;
  return std::move(reply.result);
}

StepResult RemoteEnv::LostStep(const std::string& why, const char* flag) {
  const std::string prefix = why.rfind("robot ", 0) == 0 ? "" : "robot " + address_.ToString() + ": ";
  LogWarning(prefix + why + " at step " + std::to_string(step_index_) +
             "; the episode ends truncated; reconnecting at the next reset");
  Drop();
  StepResult result;
  result.observation = last_observation_;
  result.truncated = true;
  result.info = {{"robot_lost", true}, {"error", why}, {"success", false}};
  if (flag) result.info[flag] = true;
  ++step_index_;
  EndEpisode(result.info);
  return result;
}

void RemoteEnv::EndEpisode(nlohmann::json& info) {
  const size_t n = send_times_.size();
  double achieved_hz = 0.0, jitter_ms = 0.0;
  if (n >= 2) {
    const double span = send_times_.back() - send_times_.front();
    achieved_hz = span > 0 ? double(n - 1) / span : 0.0;
    double mean = span / double(n - 1), var = 0.0;
    for (size_t i = 1; i < n; ++i) {
      const double d = send_times_[i] - send_times_[i - 1] - mean;
      var += d * d;
    }
    jitter_ms = 1000.0 * std::sqrt(var / double(n - 1));
  }
  info["robot"]["episode"] = {{"steps", n},
                              {"target_hz", spec_.control_hz},
                              {"achieved_hz", achieved_hz},
                              {"jitter_ms", jitter_ms},
                              {"mean_round_trip_ms", n ? 1000.0 * round_trip_total_s_ / double(n) : 0.0},
                              {"holds", holds_sent_.load() - holds_at_reset_}};
  std::lock_guard<std::mutex> lock(watch_mutex_);
  episode_open_ = false;
}

StepResult RemoteEnv::DoStep(const std::vector<float>& action) {
  RequestScope scope(this, /*closes_episode=*/false);
  const Frame request = EncodeStep(action, spec_.action, step_index_);  // refuses NaN / wrong size
  if (!connection_.is_open()) return LostStep("the connection is closed", nullptr);
  if (spec_.control_hz > 0 && config_.robot.pace) std::this_thread::sleep_until(next_send_);
  const auto sent = Clock::now();
  send_times_.push_back(Seconds(sent));
  if (spec_.control_hz > 0) {
    next_send_ = sent + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / spec_.control_hz));
  }
  Frame frame;
  StepReply reply;
  try {
    frame = Request(request, MessageType::kStepResult, config_.robot.step_timeout_s);
    reply = ParseStepResult(std::move(frame), spec_);
  } catch (const TransportError& e) {
    const bool timeout = e.reason() == TransportError::Reason::kTimeout;
    return LostStep(timeout ? "no answer to the step within " + FixedText(config_.robot.step_timeout_s, 1) + " s"
                            : std::string(e.what()),
                    timeout ? "timeout" : nullptr);
  } catch (const RefusedError& e) {
    if (e.fatal()) throw;
    StepResult result = LostStep(e.what(), "robot_error");
    return result;
  } catch (const ProtocolError& e) {
    Drop();
    Fail(ExitCode::kEnvFailure, "robot " + address_.ToString() + ": " + e.what());
  }
  const double round_trip = std::chrono::duration<double>(Clock::now() - sent).count();
  round_trip_total_s_ += round_trip;
  ++step_index_;
  StepResult result = std::move(reply.result);
  result.info["robot"] = {{"applied_action", reply.applied_action},
                          {"t_observation", reply.t_observation},
                          {"t_action", reply.t_action},
                          {"round_trip_ms", 1000.0 * round_trip}};
  if (reply.interrupted) {
    LogWarning("robot " + address_.ToString() + " reported an interruption (e-stop or a person) at step " +
               std::to_string(step_index_ - 1) + "; the episode ends truncated and is marked interrupted");
    result.terminated = false;
    result.truncated = true;
    result.info["interrupted"] = true;
  }
  if (!result.terminated && !result.truncated && step_index_ >= spec_.max_episode_steps) result.truncated = true;
  last_observation_ = result.observation;
  if (result.terminated || result.truncated) EndEpisode(result.info);
  return result;
}

void RemoteEnv::WatchdogLoop() {
  const double deadline = config_.robot.watchdog_s;
  const auto tick = std::chrono::duration<double>(std::min(0.05, deadline / 4));
  std::unique_lock<std::mutex> lock(watch_mutex_);
  while (!stopping_) {
    watch_wake_.wait_for(lock, tick);
    if (stopping_) break;
    const double idle = std::chrono::duration<double>(Clock::now() - last_activity_).count();
    if (!episode_open_ || in_request_ || hold_sent_ || idle < deadline) continue;
    hold_sent_ = true;
    lock.unlock();
    const std::string reason = "watchdog: no step for " + FixedText(idle, 2) + " s";
    try {
      SendLocked(EncodeHold(reason), 0.2);
      ++holds_sent_;
      LogWarning("robot " + address_.ToString() + ": " + reason + " (policy or trainer stalled); sent hold");
    } catch (const std::exception& e) {
      LogWarning("robot " + address_.ToString() + ": " + reason + "; could not send hold: " + e.what());
    }
    lock.lock();
  }
}

nlohmann::json PingRobot(const std::string& address_text, const std::string& token, int count, double timeout_s) {
  const Address address = ParseAddress(address_text);
  const std::string name = address.ToString();
  const FrameLimits limits;
  const auto t0 = Clock::now();
  Connection connection = Connection::Connect(address, timeout_s);
  const Frame welcome = Handshake(connection, name, token, limits, timeout_s);
  const double handshake_ms = 1000.0 * std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> rtts, offsets;
  for (int i = 0; i < count; ++i) {
    const double wall_before = UnixSeconds();
    const auto before = Clock::now();
    try {
      connection.SendFrame(EncodePing(), limits, timeout_s);
      const Frame reply = connection.ReceiveFrame(limits, timeout_s);
      if (reply.type == MessageType::kError) {
        const ErrorMessage error = ParseError(reply);
        Fail(ExitCode::kEnvFailure, "robot " + name + " refused ping: " + error.code + ": " + error.message);
      }
      const double t_server = ParsePong(reply);
      const double rtt = std::chrono::duration<double>(Clock::now() - before).count();
      rtts.push_back(1000.0 * rtt);
      offsets.push_back(1000.0 * (t_server - (wall_before + rtt / 2)));
    } catch (const ProtocolError& e) {
      Fail(ExitCode::kEnvFailure, "robot " + name + ": " + e.what());
    }
  }
  try {
    connection.SendFrame(EncodeClose(), limits, 0.2);
  } catch (const std::exception&) {
    // Closing is a courtesy; the results are complete.
  }
  nlohmann::json out = {{"address", name}, {"protocol_version", kProtocolVersion}, {"handshake_ms", handshake_ms}};
  out["robot"] = welcome.meta;
  if (!rtts.empty()) {
    std::vector<double> sorted = rtts;
    std::sort(sorted.begin(), sorted.end());
    double sum = 0;
    for (double x : rtts) sum += x;
    // The offset measured at the fastest exchange is the least uncertain.
    const size_t best = size_t(std::min_element(rtts.begin(), rtts.end()) - rtts.begin());
    out["round_trip_ms"] = {{"count", rtts.size()},
                            {"min", sorted.front()},
                            {"median", sorted[sorted.size() / 2]},
                            {"mean", sum / double(rtts.size())},
                            {"max", sorted.back()}};
    out["clock_offset_ms"] = offsets[best];
  }
  return out;
}

}  // namespace perpetua::robot
