// RemoteEnv against an in-process RobotServer (and hand-written fake robots)
// over real TCP and Unix sockets: equivalence with the served env, clipping,
// timeouts, lost servers, reconnection, the watchdog, interruptions, pacing,
// tokens and malformed replies.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "../sim/sim_test_util.h"
#include "policy/policy.h"
#include "robot/remote_env.h"
#include "robot/robot_server.h"
#include "robot/robot_test_util.h"
#include "rollout/rollout.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using robot::RemoteEnv;
using robot::RobotServerOptions;
using testing::ExpectError;
using testing::Header;
using testing::RobotClient;
using testing::RobotToyEnv;
using testing::ServerThread;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

RobotServerOptions Listen(const std::string& address) {
  RobotServerOptions options;
  options.listen = address;
  options.timers.io_timeout_s = 2;
  return options;
}

std::function<std::unique_ptr<Env>()> Toy(std::shared_ptr<RobotToyEnv::Knobs> knobs = nullptr, double hz = 0,
                                          int max_steps = 10) {
  return [=] {
    return std::make_unique<RobotToyEnv>(8, 8, hz, max_steps, knobs ? knobs : std::make_shared<RobotToyEnv::Knobs>());
  };
}

// Waits up to 3 s for `condition`.
bool Eventually(const std::function<bool()>& condition) {
  const auto start = Clock::now();
  while (!condition()) {
    if (SecondsSince(start) > 3) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class Constant : public Policy {
 public:
  std::vector<float> Act(const Observation&, const nlohmann::json&) override { return {0.1f, 0.0f}; }
  std::string id() const override { return "constant"; }
};

void ExpectSameObservation(const Observation& a, const Observation& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [key, array] : a) {
    CHECK(array.shape == b.at(key).shape);
    CHECK(array.u8 == b.at(key).u8);
    CHECK(array.f32 == b.at(key).f32);
  }
}

TEST_CASE("a remote env behaves exactly like the env it serves over tcp and unix sockets") {
  TempDir dir;
  for (const std::string& listen : {std::string("tcp://127.0.0.1:0"), "unix://" + dir / "robot.sock"}) {
    CAPTURE(listen);
    ServerThread server(Listen(listen), Toy());
    RemoteEnv remote(RobotClient(server.address()));
    RobotToyEnv local;
    CHECK(remote.spec().name == server.address());
    CHECK(remote.spec().action.low == local.spec().action.low);
    CHECK(remote.spec().max_episode_steps == 10);
    CHECK(remote.spec().env_args["robot"]["name"] == "robot-toy");
    CHECK(remote.spec().env_args["env_name"] == server.address());
    ResetResult a = remote.Reset(7, {{"start", 0.25}});
    ResetResult b = local.Reset(7, {{"start", 0.25}});
    ExpectSameObservation(a.observation, b.observation);
    CHECK(a.info["seed"] == 7);
    for (int step = 0;; ++step) {
      const std::vector<float> action = {0.5f, -0.25f};
      StepResult x = remote.Step(action);
      StepResult y = local.Step(action);
      ExpectSameObservation(x.observation, y.observation);
      CHECK(x.reward == y.reward);
      CHECK(x.terminated == y.terminated);
      CHECK(x.truncated == y.truncated);
      CHECK(x.info["success"] == y.info["success"]);
      CHECK(x.info["robot"]["applied_action"] == nlohmann::json(action));
      CHECK(x.info["robot"]["t_observation"].get<double>() >= x.info["robot"]["t_action"].get<double>());
      if (x.terminated || x.truncated) {
        CHECK(step == 5);  // 0.25 + 6 x 0.125 reaches 1: success at the sixth step
        CHECK(x.terminated);
        CHECK(x.info["robot"]["episode"]["steps"] == 6);
        break;
      }
    }
  }
}

TEST_CASE("actions leave clipped to the bounds and the applied action comes back") {
  ServerThread server(Listen("tcp://127.0.0.1:0"), Toy());
  RemoteEnv remote(RobotClient(server.address()));
  remote.Reset(1);
  const StepResult result = remote.Step({5.0f, -3.0f});
  CHECK(result.info["robot"]["applied_action"] == nlohmann::json({1.0, -1.0}));
  CHECK(remote.clipped_action_count() == 2);
  ExpectError([&] { remote.Step({std::nanf(""), 0.0f}); }, ExitCode::kUsage, "is not finite");
  ExpectError([&] { remote.Step({0.0f}); }, ExitCode::kUsage, "action has 1 components, the cell expects 2");
  // The refused actions left nothing on the wire: the session goes on.
  CHECK_FALSE(remote.Step({0.0f, 0.0f}).info.contains("robot_lost"));
}

TEST_CASE("a slow robot's step times out into a truncated episode and the next reset reconnects") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  ServerThread server(Listen("tcp://127.0.0.1:0"), Toy(knobs));
  EnvConfig config = RobotClient(server.address());
  config.robot.step_timeout_s = 0.2;
  RemoteEnv remote(config);
  remote.Reset(3);
  remote.Step({0.0f, 0.0f});
  knobs->step_delay_ms = 600;
  const auto start = Clock::now();
  const StepResult lost = remote.Step({0.0f, 0.0f});
  CHECK(SecondsSince(start) < 0.5);
  CHECK(lost.truncated);
  CHECK_FALSE(lost.terminated);
  CHECK(lost.reward == 0.0);
  CHECK(lost.info["timeout"] == true);
  CHECK(lost.info["robot_lost"] == true);
  CHECK(lost.info["success"] == false);
  CHECK(lost.info["error"].get<std::string>().find("no answer to the step within 0.2 s") != std::string::npos);
  CHECK(lost.info["robot"]["episode"]["steps"] == 2);
  knobs->step_delay_ms = 0;
  remote.Reset(4);
  CHECK(remote.connections() == 2);
  CHECK_FALSE(remote.Step({0.0f, 0.0f}).truncated);
}

TEST_CASE("a server killed mid-episode truncates the episode and the client reconnects when it returns") {
  TempDir dir;
  const std::string address = "unix://" + dir / "robot.sock";
  auto server = std::make_unique<ServerThread>(Listen(address), Toy());
  RemoteEnv remote(RobotClient(address));
  remote.Reset(5);
  remote.Step({0.0f, 0.0f});
  server.reset();  // the robot's process is gone: its sockets are closed
  const StepResult lost = remote.Step({0.0f, 0.0f});
  CHECK(lost.truncated);
  CHECK(lost.info["robot_lost"] == true);
  CHECK_FALSE(lost.info.contains("timeout"));
  // The robot comes back while the next reset is backing off.
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server = std::make_unique<ServerThread>(Listen(address), Toy());
  });
  const auto start = Clock::now();
  const ResetResult again = remote.Reset(5);
  restart.join();
  CHECK(SecondsSince(start) >= 0.25);
  CHECK(remote.connections() == 2);
  CHECK(again.info["seed"] == 5);
  CHECK_FALSE(remote.Step({0.0f, 0.0f}).truncated);
}

TEST_CASE("a robot that stays away fails the reset after the reconnection budget") {
  TempDir dir;
  const std::string address = "unix://" + dir / "robot.sock";
  auto server = std::make_unique<ServerThread>(Listen(address), Toy());
  EnvConfig config = RobotClient(address);
  config.robot.reconnect_s = 0.5;
  RemoteEnv remote(config);
  remote.Reset(5);
  server.reset();
  CHECK(remote.Step({0.0f, 0.0f}).truncated);
  const auto start = Clock::now();
  ExpectError([&] { remote.Reset(6); }, ExitCode::kEnvFailure, "could not reconnect within 0.5 s");
  CHECK(SecondsSince(start) < 1.5);
  // An unreachable robot at construction is one clear line, at once.
  ExpectError([&] { RemoteEnv again(config); }, ExitCode::kEnvFailure,
              "robot " + address + ": cannot connect: ");
}

TEST_CASE("the watchdog sends hold once per stall in an open episode") {
  ServerThread server(Listen("tcp://127.0.0.1:0"), Toy());
  EnvConfig config = RobotClient(server.address());
  config.robot.watchdog_s = 0.1;
  RemoteEnv remote(config);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK(remote.holds_sent() == 0);  // no episode open yet: nothing to hold
  remote.Reset(1);
  remote.Step({0.0f, 0.0f});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the policy "stalls"
  CHECK(remote.holds_sent() == 1);
  CHECK(Eventually([&] { return server.server().holds_received() == 1; }));
  StepResult result = remote.Step({0.0f, 0.0f});  // steps resume the robot
  CHECK_FALSE(result.truncated);
  while (!result.truncated && !result.terminated) result = remote.Step({-0.1f, 0.0f});
  CHECK(result.info["robot"]["episode"]["holds"] == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK(remote.holds_sent() == 1);  // the episode is over: no more holds
}

TEST_CASE("a robot-reported interruption truncates the episode and marks it apart from failures") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  knobs->interrupt_at_step = 2;
  ServerThread server(Listen("tcp://127.0.0.1:0"), Toy(knobs));
  RemoteEnv remote(RobotClient(server.address()));
  Constant policy;
  const std::optional<RolloutResult> result = RunEpisode(remote, policy, 9, nlohmann::json::object(), {}, nullptr);
  REQUIRE(result);
  CHECK(result->episode.num_steps() == 3);
  CHECK(result->episode.truncated.back() == 1);
  CHECK(result->episode.terminated.back() == 0);
  CHECK(result->episode.metadata.interrupted);
  CHECK_FALSE(result->episode.metadata.success);
  CHECK(result->final_info["interrupted"] == true);
  const nlohmann::json extra = nlohmann::json::parse(result->episode.metadata.extra_json);
  CHECK(extra["robot"]["steps"] == 3);
  // The next episode is a normal one.
  knobs->interrupt_at_step = -1;
  const std::optional<RolloutResult> next = RunEpisode(remote, policy, 10, nlohmann::json::object(), {}, nullptr);
  CHECK_FALSE(next->episode.metadata.interrupted);
}

TEST_CASE("steps are paced at the declared control rate with rate and jitter recorded") {
  ServerThread server(Listen("tcp://127.0.0.1:0"), Toy(nullptr, /*hz=*/50, /*max_steps=*/11));
  RemoteEnv remote(RobotClient(server.address()));
  CHECK(remote.spec().control_hz == 50);
  remote.Reset(2, {{"start", -100.0}});  // never succeeds: 11 steps
  const auto start = Clock::now();
  StepResult result;
  for (int i = 0; i < 11; ++i) result = remote.Step({0.0f, 0.0f});
  CHECK(SecondsSince(start) >= 0.195);  // 10 intervals of 20 ms
  REQUIRE(result.truncated);
  const nlohmann::json& stats = result.info["robot"]["episode"];
  CHECK(stats["steps"] == 11);
  CHECK(stats["target_hz"] == 50.0);
  CHECK(stats["achieved_hz"].get<double>() <= 50.5);
  CHECK(stats["achieved_hz"].get<double>() >= 30.0);  // a loaded 2-core machine still paces
  CHECK(stats["jitter_ms"].get<double>() >= 0.0);
  CHECK(stats["jitter_ms"].get<double>() < 25.0);
  CHECK(stats["mean_round_trip_ms"].get<double>() > 0.0);
}

TEST_CASE("tokens are checked and a second client is told the robot is busy") {
  RobotServerOptions options = Listen("tcp://127.0.0.1:0");
  options.token = "s3cret";
  options.timers.auth_lockout_s = 0;  // the lockout has its own test (robot_server_test.cpp)
  ServerThread server(options, Toy());
  EnvConfig config = RobotClient(server.address());
  ExpectError([&] { RemoteEnv none(config); }, ExitCode::kEnvFailure,
              "refused the connection: auth: wrong or missing token");
  config.robot.token = "wrong";
  ExpectError([&] { RemoteEnv wrong(config); }, ExitCode::kEnvFailure, "auth: wrong or missing token");
  config.robot.token = "";
  ::setenv("PERPETUA_ROBOT_TOKEN", "s3cret", 1);
  RemoteEnv first(config);
  ::unsetenv("PERPETUA_ROBOT_TOKEN");
  config.robot.token = "s3cret";
  ExpectError([&] { RemoteEnv second(config); }, ExitCode::kEnvFailure,
              "refused the connection: busy: another client holds this robot");
  first.Reset(1);
  CHECK_FALSE(first.Step({0.0f, 0.0f}).truncated);
  // The token never reaches the env_args that datasets record.
  CHECK(first.spec().env_args.dump().find("s3cret") == std::string::npos);
}

TEST_CASE("a server refuses a non-loopback address without a token") {
  RobotServerOptions options = Listen("tcp://0.0.0.0:0");
  ExpectError([&] { ServerThread server(options, Toy()); }, ExitCode::kUsage,
              "--listen tcp://0.0.0.0:0 is not a loopback address: give --robot.token");
  options.token = "t";
  ServerThread server(options, Toy());  // allowed with a token
  CHECK(server.address().rfind("tcp://0.0.0.0:", 0) == 0);
}

// A fake robot: answers the client's HELLO with `respond`.
class FakeRobot {
 public:
  FakeRobot(const std::string& path, std::function<void(robot::Connection&)> respond)
      : listener_(robot::ParseAddress("unix://" + path)) {
    thread_ = std::thread([this, respond] {
      std::optional<robot::Connection> c = listener_.Accept(3);
      if (!c) return;
      try {
        c->ReceiveFrame({}, 3);  // the HELLO
        respond(*c);
        c->WaitReadable(3);      // until the client leaves
      } catch (const Error&) {
      }
    });
  }
  ~FakeRobot() { thread_.join(); }
  std::string address() const { return listener_.address().ToString(); }

 private:
  robot::Listener listener_;
  std::thread thread_;
};

TEST_CASE("malformed replies and version mismatches end with one clear robot failure") {
  TempDir dir;
  EnvConfig config;
  config.robot.connect_timeout_s = 0.5;
  {
    FakeRobot fake(dir / "a.sock", [](robot::Connection& c) {
      const std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
      c.Send(std::vector<uint8_t>(http.begin(), http.end()), 1);
    });
    config.name = fake.address();
    ExpectError([&] { RemoteEnv env(config); }, ExitCode::kEnvFailure,
                "robot " + fake.address() + ": malformed frame: bad magic 48 54 54 50");
  }
  {
    FakeRobot fake(dir / "b.sock", [](robot::Connection& c) {
      std::vector<uint8_t> bytes = Header(2, 2, 2, 0);
      bytes.push_back('{');
      bytes.push_back('}');
      c.Send(bytes, 1);
    });
    config.name = fake.address();
    ExpectError([&] { RemoteEnv env(config); }, ExitCode::kEnvFailure,
                "protocol version mismatch: the peer speaks version 2, this build speaks version 1");
  }
  {
    FakeRobot fake(dir / "c.sock", [](robot::Connection& c) { c.Send(Header(1, 2, 100, 0xFFFFFF00u), 1); });
    config.name = fake.address();
    ExpectError([&] { RemoteEnv env(config); }, ExitCode::kEnvFailure, "oversized frame");
  }
  {
    FakeRobot fake(dir / "d.sock", [](robot::Connection&) {});  // never answers
    config.name = fake.address();
    ExpectError([&] { RemoteEnv env(config); }, ExitCode::kEnvFailure, "no answer to hello within 0.5 s");
  }
  {
    // A WELCOME, then a reset answered with an image of the wrong shape.
    FakeRobot fake(dir / "e.sock", [](robot::Connection& c) {
      RobotToyEnv toy;
      c.SendFrame(robot::EncodeWelcome(toy.spec(), "fake"), {}, 1);
      c.ReceiveFrame({}, 3);
      robot::ResetReply reply;
      reply.result.observation = {{"image", Array::Zeros(DType::kUint8, {8, 9, 3})},
                                  {"proprio", Array::FromFloats({0})}};
      c.SendFrame(robot::EncodeResetResult(reply), {}, 1);
    });
    config.name = fake.address();
    RemoteEnv env(config);
    ExpectError([&] { env.Reset(1); }, ExitCode::kEnvFailure,
                "malformed reset_result: observation 'image' is uint8 [8, 9, 3], the robot declared uint8 [8, 8, 3]");
  }
  {
    // A WELCOME, then a step answered with a fatal error.
    FakeRobot fake(dir / "f.sock", [](robot::Connection& c) {
      RobotToyEnv toy;
      c.SendFrame(robot::EncodeWelcome(toy.spec(), "fake"), {}, 1);
      c.ReceiveFrame({}, 3);
      c.SendFrame(robot::EncodeError({"robot_failure", "joint 3 over temperature", true}), {}, 1);
    });
    config.name = fake.address();
    RemoteEnv env(config);
    ExpectError([&] { env.Reset(1); }, ExitCode::kEnvFailure,
                "refused the reset: robot_failure: joint 3 over temperature");
  }
}

TEST_CASE("the server answers bad requests with errors and keeps serving") {
  ServerThread server(Listen("tcp://127.0.0.1:0"), Toy());
  const robot::Address address = robot::ParseAddress(server.address());
  const robot::FrameLimits limits;
  auto expect_error = [&](robot::Connection& c, const std::string& code, bool fatal) {
    const robot::Frame reply = c.ReceiveFrame(limits, 2);
    REQUIRE(reply.type == robot::MessageType::kError);
    const robot::ErrorMessage error = robot::ParseError(reply);
    CHECK(error.code == code);
    CHECK(error.fatal == fatal);
    return error.message;
  };
  {
    robot::Connection c = robot::Connection::Connect(address, 2);
    c.SendFrame(robot::EncodeReset({1, {}}), limits, 1);  // before HELLO
    CHECK(expect_error(c, "bad_request", true) == "the first message must be hello");
  }
  robot::Connection c = robot::Connection::Connect(address, 2);
  c.SendFrame(robot::EncodeHello({"raw", ""}), limits, 1);
  CHECK(c.ReceiveFrame(limits, 2).type == robot::MessageType::kWelcome);
  c.SendFrame(robot::EncodeStep({0, 0}, RobotToyEnv().spec().action, 0), limits, 1);
  CHECK(expect_error(c, "no_episode", false) == "step without an open episode: reset first");
  c.SendFrame(robot::EncodeReset({1, {{"stat", 1}}}), limits, 1);
  CHECK(expect_error(c, "bad_request", false) == "unknown reset option 'stat'");
  c.SendFrame(robot::EncodeReset({1, {}}), limits, 1);
  CHECK(c.ReceiveFrame(limits, 2).type == robot::MessageType::kResetResult);
  robot::Frame nan_step;
  nan_step.type = robot::MessageType::kStep;
  nan_step.tensors = {{"action", Array::FromFloats({std::nanf(""), 0})}};
  c.SendFrame(nan_step, limits, 1);
  CHECK(expect_error(c, "bad_action", false).find("'action' component 0 is not finite") != std::string::npos);
  c.SendFrame(robot::EncodePing(), limits, 1);
  CHECK(c.ReceiveFrame(limits, 2).type == robot::MessageType::kPong);
  std::vector<uint8_t> v9 = Header(9, 5, 2, 0);
  v9.push_back('{');
  v9.push_back('}');
  c.Send(v9, 1);
  CHECK(expect_error(c, "version", true).find("the peer speaks version 9") != std::string::npos);
  // The session is over, the server is not.
  RemoteEnv remote(RobotClient(server.address()));
  remote.Reset(2);
  CHECK_FALSE(remote.Step({0.0f, 0.0f}).truncated);
}

}  // namespace
}  // namespace perpetua
