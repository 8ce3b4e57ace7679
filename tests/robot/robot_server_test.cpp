// The servers' own safety, for both the C++ RobotServer (in-process, serving
// a toy env whose Hold() is observable) and the Python reference server
// (a real process whose holds are logged on stderr): clients that connect
// and go silent, stall mid-frame or vanish (close, RST) leave the robot
// holding within the watchdog time and the session free for the next client;
// TCP keepalive on accepted sockets; the pre-auth frame limit; the auth
// lockout; bad robot data through rl-collect.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "../sim/sim_test_util.h"
#include "data/dataset_reader.h"
#include "robot/protocol.h"
#include "robot/robot_server.h"
#include "robot/robot_test_util.h"
#include "robot/transport.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using robot::Connection;
using robot::Frame;
using robot::MessageType;
using testing::ChildProcess;
using testing::Header;
using testing::RobotToyEnv;
using testing::ServerThread;
using Clock = std::chrono::steady_clock;

// The timers every server here runs with (seconds).
constexpr double kHello = 0.3, kIdle = 0.8, kWatchdog = 0.3, kIo = 0.5;
// Slack for a loaded 2-core machine.
constexpr double kSlack = 1.0;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Seconds until `condition` holds, or -1 after `limit_s`.
double SecondsUntil(const std::function<bool()>& condition, double limit_s) {
  const auto start = Clock::now();
  while (!condition()) {
    if (SecondsSince(start) > limit_s) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return SecondsSince(start);
}

// A server under test: its address and how many times it has held the robot.
struct Served {
  std::string address;
  std::function<int()> holds;
};

const robot::FrameLimits kLimits;

Connection Dial(const std::string& address) { return Connection::Connect(robot::ParseAddress(address), 2); }

Frame Ask(Connection& c, const Frame& request) {
  c.SendFrame(request, kLimits, 1);
  return c.ReceiveFrame(kLimits, 2);
}

// HELLO, RESET and one STEP: an episode open, the robot moving.
Connection InEpisode(const std::string& address) {
  Connection c = Dial(address);
  REQUIRE(Ask(c, robot::EncodeHello({"test", ""})).type == MessageType::kWelcome);
  REQUIRE(Ask(c, robot::EncodeReset({1, {}})).type == MessageType::kResetResult);
  ActionSpec action;
  action.low = {-1, -1};
  action.high = {1, 1};
  REQUIRE(Ask(c, robot::EncodeStep({0.1f, 0.0f}, action, 0)).type == MessageType::kStepResult);
  return c;
}

// True once the server has closed `c` (EOF or reset), within `limit_s`.
double SecondsUntilClosed(Connection& c, double limit_s) {
  return SecondsUntil(
      [&] {
        uint8_t byte;
        try {
          c.ReceiveAvailable(&byte, 1);
        } catch (const robot::TransportError&) {
          return true;
        }
        return false;
      },
      limit_s);
}

// A new client gets its WELCOME: the session was freed.
void ExpectFreed(const std::string& address) {
  Connection c = Dial(address);
  CHECK(Ask(c, robot::EncodeHello({"next", ""})).type == MessageType::kWelcome);
  c.SendFrame(robot::EncodeClose(), kLimits, 1);
}

// Waits for the server's next hold after `before` holds; CHECKs it came
// within `within_s` seconds (and, with `not_before_s`, not earlier).
void ExpectHold(const Served& server, int before, double within_s, double not_before_s = 0) {
  const auto start = Clock::now();
  const double s = SecondsUntil([&] { return server.holds() > before; }, within_s + kSlack);
  CAPTURE(s);
  CHECK(s >= 0);
  CHECK(SecondsSince(start) >= not_before_s - 0.02);
}

// TCP state of the server's end of `client` from /proc/net/tcp: true when its keepalive timer runs.
bool ServerSideKeepalive(const std::string& address, const Connection& client) {
  sockaddr_storage ss{};
  socklen_t length = sizeof ss;
  ::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&ss), &length);
  const int client_port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  const int server_port = robot::ParseAddress(address).port;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer;
    fields >> slot >> local >> remote >> state >> queues >> timer;
    const int local_port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
    const int remote_port = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16);
    if (local_port == server_port && remote_port == client_port) return timer.rfind("02:", 0) == 0;
  }
  return false;
}

// Every way a client can leave the robot alone, one after the other against
// one server: each time the robot holds and the next client gets the session.
void ExpectHoldsAndFrees(const Served& server) {
  {
    INFO("a client that connects and says nothing is closed at the hello deadline");
    Connection silent = Dial(server.address);
    if (server.address.rfind("tcp://", 0) == 0) {
      CHECK(SecondsUntil([&] { return ServerSideKeepalive(server.address, silent); }, 2) >= 0);
    }
    const double s = SecondsUntilClosed(silent, kHello + kSlack);
    CHECK(s >= kHello - 0.05);
    ExpectFreed(server.address);
  }
  {
    INFO("a client silent mid-episode: the robot holds at the watchdog time, the idle session closes");
    Connection silent = InEpisode(server.address);
    ExpectHold(server, server.holds(), kWatchdog, kWatchdog);
    CHECK(SecondsUntilClosed(silent, kIdle + kSlack) >= 0);
    ExpectFreed(server.address);
  }
  {
    INFO("a client that stalls mid-frame: the robot holds, the session closes");
    Connection stalled = InEpisode(server.address);
    const int before = server.holds();
    stalled.Send(Header(1, uint16_t(MessageType::kStep), 100, 8), 1);
    stalled.Send({'{', '"'}, 1);
    ExpectHold(server, before, kWatchdog, kWatchdog);
    CHECK(SecondsUntilClosed(stalled, kIo + kSlack) >= 0);
    ExpectFreed(server.address);
  }
  {
    INFO("a client that disappears (close): the robot holds, the next client connects");
    Connection gone = InEpisode(server.address);
    const int before = server.holds();
    gone.Close();
    ExpectHold(server, before, kWatchdog);
    ExpectFreed(server.address);
  }
  {
    INFO("a client that disappears (reset, no FIN): the robot holds, the next client connects");
    Connection gone = InEpisode(server.address);
    const int before = server.holds();
    const linger abort{1, 0};  // closing sends RST
    ::setsockopt(gone.fd(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    const int placeholder = ::open("/dev/null", O_RDONLY);
    ::dup2(placeholder, gone.fd());  // closes the socket without shutdown(); `gone` now owns /dev/null
    ::close(placeholder);
    ExpectHold(server, before, kWatchdog);
    ExpectFreed(server.address);
  }
}

robot::RobotServerOptions Options(const std::string& listen) {
  robot::RobotServerOptions options;
  options.listen = listen;
  options.timers.io_timeout_s = kIo;
  options.timers.hello_timeout_s = kHello;
  options.timers.idle_timeout_s = kIdle;
  options.timers.watchdog_s = kWatchdog;
  options.timers.keepalive_s = 1;
  return options;
}

std::function<std::unique_ptr<Env>()> Toy(std::shared_ptr<RobotToyEnv::Knobs> knobs) {
  return [knobs] { return std::make_unique<RobotToyEnv>(8, 8, 0.0, 10, knobs); };
}

TEST_CASE("Env::Hold calls the env's hook and holds until the next step or reset") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  RobotToyEnv env(8, 8, 0.0, 10, knobs);
  CHECK_FALSE(env.holding());
  env.Hold();  // before any episode: allowed
  CHECK(env.holding());
  env.Reset(1);
  CHECK_FALSE(env.holding());
  env.Step({0.1f, 0.0f});
  env.Hold();
  env.Hold();  // idempotent for the caller; the hook sees each call
  CHECK(env.holding());
  CHECK(knobs->holds == 3);
  CHECK_FALSE(env.Step({0.1f, 0.0f}).truncated);  // the episode stayed open: the step resumes it
  CHECK_FALSE(env.holding());
  CHECK_FALSE(knobs->holding);
}

TEST_CASE("the C++ server holds the robot and frees the session whatever the client does") {
  testing::TempDir dir;
  for (const std::string& listen : {std::string("tcp://127.0.0.1:0"), "unix://" + dir / "robot.sock"}) {
    CAPTURE(listen);
    auto knobs = std::make_shared<RobotToyEnv::Knobs>();
    ServerThread server(Options(listen), Toy(knobs));
    ExpectHoldsAndFrees({server.address(), [knobs] { return knobs->holds.load(); }});
  }
}

TEST_CASE("the C++ server's watchdog holds once per stall and a step resumes the robot") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  robot::RobotServerOptions options = Options("tcp://127.0.0.1:0");
  options.timers.idle_timeout_s = 5;
  ServerThread server(options, Toy(knobs));
  Connection c = InEpisode(server.address());
  CHECK(SecondsUntil([&] { return knobs->holding.load(); }, kWatchdog + kSlack) >= 0);
  std::this_thread::sleep_for(std::chrono::duration<double>(2 * kWatchdog));
  CHECK(knobs->holds == 1);  // held once, not once per poll
  CHECK(server.server().holds_applied() == 1);
  c.SendFrame(robot::EncodePing(), kLimits, 1);  // a ping keeps the session, not the robot, alive
  CHECK(c.ReceiveFrame(kLimits, 2).type == MessageType::kPong);
  ActionSpec action{{-1, -1}, {1, 1}, {}};
  CHECK(Ask(c, robot::EncodeStep({0.0f, 0.0f}, action, 1)).type == MessageType::kStepResult);
  CHECK_FALSE(knobs->holding);
  c.SendFrame(robot::EncodeHold("the test asks"), kLimits, 1);
  CHECK(SecondsUntil([&] { return knobs->holds == 2; }, kSlack) >= 0);
  CHECK(server.server().holds_received() == 1);
}

TEST_CASE("the C++ server refuses a watchdog shorter than two control periods and bad timers") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  robot::RobotServerOptions options = Options("tcp://127.0.0.1:0");
  options.timers.watchdog_s = 0.1;
  testing::ExpectError(
      [&] { ServerThread s(options, [knobs] { return std::make_unique<RobotToyEnv>(8, 8, 10.0, 10, knobs); }); },
      ExitCode::kUsage, "--watchdog-s 0.100 is shorter than two control periods of robot-toy (10.0 Hz)");
  options.timers.watchdog_s = 0;
  testing::ExpectError([&] { ServerThread s(options, Toy(knobs)); }, ExitCode::kUsage,
                       "--hello-timeout-s, --io-timeout-s, --idle-timeout-s and --watchdog-s must be > 0");
}

// A client sends a header announcing `json_bytes` of JSON before its HELLO
// is accepted: the server refuses it at once, without reading or allocating it.
void ExpectPreAuthLimit(const std::string& address, const std::string& token = "") {
  Connection c = Dial(address);
  c.Send(Header(1, uint16_t(MessageType::kHello), 1u << 20, 0), 1);
  const auto start = Clock::now();
  const robot::ErrorMessage error = robot::ParseError(c.ReceiveFrame(kLimits, 2));
  CHECK(SecondsSince(start) < 1.0);
  CHECK(error.code == "bad_request");
  CHECK(error.fatal);
  CHECK(error.message.find("oversized") != std::string::npos);
  CHECK(error.message.find("65536") != std::string::npos);
  // After the HELLO, frames up to the full limit are read.
  Connection greeted = Dial(address);
  REQUIRE(Ask(greeted, robot::EncodeHello({"test", token})).type == MessageType::kWelcome);
  Frame big = robot::EncodePing();
  big.meta["padding"] = std::string(200000, 'x');
  CHECK(Ask(greeted, big).type == MessageType::kPong);
}

TEST_CASE("the C++ server reads only small frames before the hello") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  ServerThread server(Options("tcp://127.0.0.1:0"), Toy(knobs));
  ExpectPreAuthLimit(server.address());
}

// Failed authentications from one address lock it out for a growing time
// (lockout 0.4 s, then 0.8 s); a success clears the count.
void ExpectAuthLockout(const std::string& address) {
  auto hello = [&](const std::string& token) {
    Connection c = Dial(address);
    c.SendFrame(robot::EncodeHello({"test", token}), kLimits, 1);
    const Frame reply = c.ReceiveFrame(kLimits, 2);
    return reply.type == MessageType::kWelcome ? std::string("welcome") : robot::ParseError(reply).message;
  };
  const std::string locked = "too many failed authentications from this address; try again in ";
  CHECK(hello("wrong") == "wrong or missing token");
  CHECK(hello("s3cret").rfind(locked, 0) == 0);  // even the right token, while locked out
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(hello("wrong") == "wrong or missing token");  // second failure: 0.8 s
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  CHECK(hello("s3cret").rfind(locked, 0) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  CHECK(hello("s3cret") == "welcome");
  CHECK(hello("wrong") == "wrong or missing token");  // the count starts again: 0.4 s
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(hello("s3cret") == "welcome");
}

TEST_CASE("the C++ server locks out an address after failed authentications for a growing time") {
  auto knobs = std::make_shared<RobotToyEnv::Knobs>();
  robot::RobotServerOptions options = Options("tcp://127.0.0.1:0");
  options.token = "s3cret";
  options.timers.auth_lockout_s = 0.4;
  options.timers.hello_timeout_s = 2;
  ServerThread server(options, Toy(knobs));
  ExpectAuthLockout(server.address());
}

// ---- The Python reference server -------------------------------------------------------------

bool HaveNumpy() {
  return testing::RunProcess({"/usr/bin/python3", "-c", "import numpy"}).exit_code == 0;
}

std::vector<std::string> PythonRobot(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"/usr/bin/python3",    testing::SourcePath("scripts/robot_server.py"),
                                   "--hello-timeout-s",   std::to_string(kHello),
                                   "--idle-timeout-s",    std::to_string(kIdle),
                                   "--watchdog-s",        std::to_string(kWatchdog),
                                   "--io-timeout-s",      std::to_string(kIo),
                                   "--keepalive-s",       "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::string Started(ChildProcess& server) {
  for (int i = 0; i < 10000 && testing::Lines(server.OutSoFar()).empty(); ++i) ::usleep(1000);
  const std::vector<std::string> lines = testing::Lines(server.OutSoFar());
  REQUIRE_MESSAGE(!lines.empty(), server.ErrSoFar());
  return lines.front();
}

int CountOf(const std::string& text, const std::string& word) {
  int n = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

TEST_CASE("the Python server holds the robot and frees the session whatever the client does") {
  if (!HaveNumpy()) {
    MESSAGE("skipped: /usr/bin/python3 lacks numpy");
    return;
  }
  testing::TempDir dir;
  for (const std::string& listen : {std::string("tcp://127.0.0.1:0"), "unix://" + dir / "robot.sock"}) {
    CAPTURE(listen);
    ChildProcess python(PythonRobot({"--listen", listen}));
    const std::string address = Started(python);
    ExpectHoldsAndFrees({address, [&] { return CountOf(python.ErrSoFar(), "robot_server.py: holding: "); }});
  }
}

TEST_CASE("the Python server limits frames before the hello and locks out failed authentications") {
  if (!HaveNumpy()) {
    MESSAGE("skipped: /usr/bin/python3 lacks numpy");
    return;
  }
  ChildProcess python(PythonRobot({"--listen", "tcp://127.0.0.1:0", "--robot.token", "s3cret", "--auth-lockout-s", "0.4",
                                   "--hello-timeout-s", "2"}));
  const std::string address = Started(python);
  ExpectAuthLockout(address);
  ExpectPreAuthLimit(address, "s3cret");
}

TEST_CASE("the Python server refuses unknown reset options and bad listen addresses in one line") {
  if (!HaveNumpy()) {
    MESSAGE("skipped: /usr/bin/python3 lacks numpy");
    return;
  }
  testing::TempDir dir;
  {
    ChildProcess python(PythonRobot({"--listen", "unix://" + dir / "robot.sock"}));
    Connection c = Dial(Started(python));
    REQUIRE(Ask(c, robot::EncodeHello({"test", ""})).type == MessageType::kWelcome);
    const robot::ErrorMessage error = robot::ParseError(Ask(c, robot::EncodeReset({1, {{"stat", 1}}})));
    CHECK(error.code == "bad_request");
    CHECK_FALSE(error.fatal);
    CHECK(error.message == "unknown reset option 'stat'");
    CHECK(Ask(c, robot::EncodeReset({1, {}})).type == MessageType::kResetResult);  // the session goes on
  }
  // A stale socket of a dead server is replaced (the server above is gone, its file may stay).
  testing::WriteFile(dir / "notes.txt", "precious");
  const testing::ProcessResult file = testing::RunProcess(PythonRobot({"--listen", "unix://" + dir / "notes.txt"}));
  CHECK(file.exit_code == 2);
  CHECK(file.err == "robot_server.py: error: --listen unix://" + dir / "notes.txt" + ": " + dir / "notes.txt" +
                        " exists and is not a socket (not removing it)\n");
  CHECK(testing::ReadFile(dir / "notes.txt") == "precious");
  const testing::ProcessResult host =
      testing::RunProcess(PythonRobot({"--listen", "tcp://no-such-host.invalid:0", "--robot.token", "t"}));
  CHECK(host.exit_code == 2);
  CHECK(host.err.rfind("robot_server.py: error: --listen tcp://no-such-host.invalid:0: ", 0) == 0);
  CHECK(CountOf(host.err, "\n") == 1);
  const testing::ProcessResult name = testing::RunProcess(PythonRobot({"--listen", "tcp://robot-pc:0"}));
  CHECK(name.exit_code == 2);
  CHECK(name.err == "robot_server.py: error: --listen tcp://robot-pc:0 is not loopback: give --robot.token\n");
}

// ---- Bad robot data ---------------------------------------------------------------------------

TEST_CASE("bad robot data ends rl-collect as a robot failure and keeps the episodes written") {
  const std::vector<std::pair<int, std::string>> cases = {
      {1, "malformed step_result: observation 'proprio' element 0 is not finite"},
      {2, "malformed step_result: 'reward' 1e+39 is not a finite float32"},
      {3, "malformed step_result: observation 'image' is uint8 [2, 2, 3], the robot declared uint8 [8, 8, 3]"}};
  for (const auto& [poison, message] : cases) {
    CAPTURE(poison);
    testing::TempDir dir;
    auto knobs = std::make_shared<RobotToyEnv::Knobs>();
    knobs->poison = poison;
    knobs->poison_from_total_step = 15;  // in the second episode (10 steps each at most)
    ServerThread server(Options("tcp://127.0.0.1:0"), Toy(knobs));
    const testing::ProcessResult collect = testing::RunProcess(
        {testing::ToolPath("rl-collect"), "--env", server.address(), "--policy", "random", "--episodes", "4",
         "--seed", "1", "--out", dir / "data", "--dataset.episodes-per-shard", "1"});
    CAPTURE(collect.err);
    CHECK(collect.exit_code == 4);
    CHECK(collect.err.find("rl-collect: error: robot " + server.address() + ": " + message) != std::string::npos);
    DatasetReader reader({dir / "data"});
    CHECK(reader.num_episodes() >= 1);
    for (size_t i = 0; i < reader.num_episodes(); ++i) CHECK(reader.ReadEpisode(i).num_steps() >= 1);
  }
}

}  // namespace
}  // namespace perpetua
