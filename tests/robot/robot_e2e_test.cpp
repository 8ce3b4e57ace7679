// The remote path end to end with real processes: `rl-robot serve` serving
// the grasp cell and scripts/robot_server.py as a fake robot, driven by the
// real rl-collect, rl-eval and rl-robot ping; servers killed mid-run.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "data/dataset_reader.h"
#include "robot/frame.h"
#include "robot/protocol.h"
#include "robot/transport.h"
#include "rollout/rollout.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::ChildProcess;
using testing::Lines;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SourcePath;
using testing::TempDir;
using testing::ToolPath;

using testing::WaitForLines;

// Starts a server process and returns the address it printed.
std::string Started(ChildProcess& server) { return WaitForLines(server, 1).front(); }

std::vector<std::string> Serve(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-robot"), "serve", "--env", "grasp", "--cell.image-size", "32"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

bool HaveNumpy() { return RunProcess({"/usr/bin/python3", "-c", "import numpy"}).exit_code == 0; }

std::vector<std::string> PythonRobot(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"/usr/bin/python3", SourcePath("scripts/robot_server.py")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Every episode of a dataset directory, ordered by seed.
std::vector<Episode> ReadSorted(const std::string& dir) {
  DatasetReader reader({dir});
  std::vector<Episode> episodes;
  for (size_t i = 0; i < reader.num_episodes(); ++i) episodes.push_back(reader.ReadEpisode(i));
  std::sort(episodes.begin(), episodes.end(),
            [](const Episode& a, const Episode& b) { return a.metadata.seed < b.metadata.seed; });
  return episodes;
}

int64_t IndexOf(const Episode& e) { return nlohmann::json::parse(e.metadata.extra_json).at("index").get<int64_t>(); }

TEST_CASE("rl-collect over the protocol writes the same arrays as in-process for the same seed") {
  TempDir dir;
  ChildProcess server(Serve({"--listen", "tcp://127.0.0.1:0"}));
  const std::string address = Started(server);
  const ProcessResult remote = RunProcess({ToolPath("rl-collect"), "--env", address, "--policy", "random",
                                           "--episodes", "4", "--seed", "11", "--out", dir / "remote"});
  CAPTURE(remote.err);
  REQUIRE(remote.exit_code == 0);
  const ProcessResult local = RunProcess({ToolPath("rl-collect"), "--env", "grasp", "--cell.image-size", "32",
                                          "--policy", "random", "--episodes", "4", "--seed", "11", "--out",
                                          dir / "local"});
  REQUIRE(local.exit_code == 0);
  const std::vector<Episode> a = ReadSorted(dir / "remote"), b = ReadSorted(dir / "local");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  int64_t steps = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].metadata.seed == b[i].metadata.seed);
    CHECK(a[i].metadata.object_ids == b[i].metadata.object_ids);
    CHECK(a[i].metadata.success == b[i].metadata.success);
    CHECK(a[i].actions.shape == b[i].actions.shape);
    CHECK(a[i].actions.f32 == b[i].actions.f32);
    CHECK(a[i].rewards == b[i].rewards);
    CHECK(a[i].terminated == b[i].terminated);
    CHECK(a[i].truncated == b[i].truncated);
    REQUIRE(a[i].observations.size() == b[i].observations.size());
    for (const auto& [key, array] : b[i].observations) {
      CAPTURE(key);
      CHECK(a[i].observations.at(key).shape == array.shape);
      CHECK(a[i].observations.at(key).u8 == array.u8);
      CHECK(a[i].observations.at(key).f32 == array.f32);
    }
    // The remote episode also records the pacing figures.
    const nlohmann::json extra = nlohmann::json::parse(a[i].metadata.extra_json);
    CHECK(extra["robot"]["steps"] == a[i].num_steps());
    CHECK(extra["robot"].contains("achieved_hz"));
    CHECK(extra["robot"].contains("jitter_ms"));
    steps += a[i].num_steps();
  }
  CHECK(steps > 4);
}

TEST_CASE("rl-eval over the protocol reports what it reports in-process") {
  TempDir dir;
  ChildProcess server(Serve({"--objects", "heldout", "--listen", "unix://" + dir / "robot.sock"}));
  const std::string address = Started(server);
  CHECK(address == "unix://" + dir / "robot.sock");
  const ProcessResult remote = RunProcess({ToolPath("rl-eval"), "--env", address, "--policy", "random",
                                           "--episodes", "5", "--seed", "3"});
  CAPTURE(remote.err);
  REQUIRE(remote.exit_code == 0);
  const ProcessResult local = RunProcess({ToolPath("rl-eval"), "--env", "grasp", "--cell.image-size", "32",
                                          "--policy", "random", "--episodes", "5", "--seed", "3"});
  REQUIRE(local.exit_code == 0);
  const nlohmann::json a = nlohmann::json::parse(remote.out), b = nlohmann::json::parse(local.out);
  CHECK(a["a"]["episodes"] == 5);
  CHECK(a["a"]["successes"] == b["a"]["successes"]);
  CHECK(a["a"]["mean_return"] == b["a"]["mean_return"]);
  CHECK(a["a"]["mean_length"] == b["a"]["mean_length"]);
  CHECK(a["a"]["per_object"] == b["a"]["per_object"]);
  CHECK(a["a"]["interrupted"] == 0);
}

TEST_CASE("rl-collect rl-eval and rl-robot ping drive the Python reference robot") {
  if (!HaveNumpy()) {
    MESSAGE("skipped: /usr/bin/python3 lacks numpy (Debian python3-numpy; scripts/setup.sh installs it)");
    return;
  }
  TempDir dir;
  ChildProcess robot(PythonRobot({"--listen", "tcp://127.0.0.1:0", "--interrupt-every", "2"}));
  const std::string address = Started(robot);

  const ProcessResult ping = RunProcess({ToolPath("rl-robot"), "ping", address, "--count", "5"});
  CAPTURE(ping.err);
  REQUIRE(ping.exit_code == 0);
  const nlohmann::json specs = nlohmann::json::parse(ping.out);
  CHECK(specs["robot"]["name"] == "toy-point");
  CHECK(specs["robot"]["server"] == "perpetua robot_server.py");
  CHECK(specs["robot"]["observations"][0]["shape"] == nlohmann::json({64, 64, 3}));
  CHECK(specs["round_trip_ms"]["count"] == 5);

  const ProcessResult collect = RunProcess({ToolPath("rl-collect"), "--env", address, "--policy", "random",
                                            "--episodes", "4", "--seed", "2", "--out", dir / "data"});
  CAPTURE(collect.err);
  REQUIRE(collect.exit_code == 0);
  CHECK(collect.err.find("2 interrupted by the robot") != std::string::npos);
  const std::vector<Episode> episodes = ReadSorted(dir / "data");
  REQUIRE(episodes.size() == 4);
  int interrupted = 0;
  for (const Episode& e : episodes) {
    CHECK(e.observations.at("image").shape == std::vector<int64_t>{e.num_steps() + 1, 64, 64, 3});
    CHECK(e.observations.at("proprio").shape == std::vector<int64_t>{e.num_steps() + 1, 2});
    if (e.metadata.interrupted) {
      ++interrupted;
      CHECK(e.num_steps() == 3);  // the fake person steps in at the third step
      CHECK(e.truncated.back() == 1);
      CHECK_FALSE(e.metadata.success);
    }
  }
  CHECK(interrupted == 2);  // every second episode

  const ProcessResult eval = RunProcess({ToolPath("rl-eval"), "--env", address, "--policy", "random",
                                         "--episodes", "4", "--seed", "9"});
  CAPTURE(eval.err);
  REQUIRE(eval.exit_code == 0);
  const nlohmann::json report = nlohmann::json::parse(eval.out);
  CHECK(report["a"]["interrupted"] == 2);
  CHECK(report["a"]["episodes"] == 2);  // interrupted episodes are neither successes nor failures
  CHECK(eval.err.find("2 interrupted episode(s)") != std::string::npos);

  // The reference server refuses another protocol version with a fatal ERROR.
  robot::Connection raw = robot::Connection::Connect(robot::ParseAddress(address), 2);
  std::vector<uint8_t> hello = robot::EncodeFrame(robot::EncodeHello({"v9", ""}));
  hello[4] = 9;
  raw.Send(hello, 1);
  const robot::ErrorMessage error = robot::ParseError(raw.ReceiveFrame({}, 2));
  CHECK(error.code == "version");
  CHECK(error.fatal);
  CHECK(error.message == "protocol version mismatch: the peer speaks version 9, this server speaks version 1");

  // A malformed request ends that session with a fatal ERROR; the server keeps serving.
  robot::Connection bad = robot::Connection::Connect(robot::ParseAddress(address), 2);
  bad.SendFrame(robot::EncodeHello({"raw", ""}), {}, 1);
  CHECK(bad.ReceiveFrame({}, 2).type == robot::MessageType::kWelcome);
  const std::string json = "{\"tensors\": [1, 2]}";
  std::vector<uint8_t> frame = robot::EncodeFrame(robot::EncodePing());
  frame.resize(robot::kHeaderBytes);
  frame[6] = 5;  // STEP
  const uint32_t length = uint32_t(json.size());
  std::memcpy(frame.data() + 8, &length, 4);
  frame.insert(frame.end(), json.begin(), json.end());
  bad.Send(frame, 1);
  const robot::ErrorMessage refused = robot::ParseError(bad.ReceiveFrame({}, 2));
  CHECK(refused.code == "bad_request");
  CHECK(refused.fatal);
  CHECK(RunProcess({ToolPath("rl-robot"), "ping", address, "--count", "1"}).exit_code == 0);
}

TEST_CASE("a robot server killed mid-run: rl-collect reconnects with backoff and carries on") {
  TempDir dir;
  const std::string socket = "unix://" + dir / "robot.sock";
  auto server = std::make_unique<ChildProcess>(Serve({"--listen", socket}));
  Started(*server);
  ChildProcess collect({ToolPath("rl-collect"), "--env", socket, "--policy", "random", "--forever", "--seed", "4",
                        "--out", dir / "data", "--dataset.episodes-per-shard", "1", "--robot.reconnect-s", "30"});
  WaitForLines(collect, 3);
  ::kill(server->pid(), SIGKILL);
  server->Wait();
  server = std::make_unique<ChildProcess>(Serve({"--listen", socket}));
  Started(*server);
  const size_t before = Lines(collect.OutSoFar()).size();
  WaitForLines(collect, before + 3);  // carrying on with the new server
  collect.Signal(SIGINT);
  const ProcessResult result = collect.Wait();
  CAPTURE(result.err);
  CHECK(result.exit_code == 130);
  CHECK(result.err.find("reconnect") != std::string::npos);
  // Every episode is there, in order, none harmed: indices 0..n-1.
  const std::vector<Episode> episodes = ReadSorted(dir / "data");
  std::set<int64_t> indices;
  for (const Episode& e : episodes) {
    indices.insert(IndexOf(e));
    CHECK(e.metadata.seed == EpisodeSeed(4, IndexOf(e)));
  }
  REQUIRE(indices.size() >= before + 3);
  CHECK(*indices.rbegin() == int64_t(indices.size()) - 1);
}

TEST_CASE("a robot that stays away stops rl-collect with the robot failure code and keeps what was written") {
  TempDir dir;
  const std::string socket = "unix://" + dir / "robot.sock";
  ChildProcess server(Serve({"--listen", socket}));
  Started(server);
  ChildProcess collect({ToolPath("rl-collect"), "--env", socket, "--policy", "random", "--forever", "--out",
                        dir / "data", "--dataset.episodes-per-shard", "1", "--robot.reconnect-s", "0.5"});
  const size_t shards = WaitForLines(collect, 2).size();
  ::kill(server.pid(), SIGKILL);
  server.Wait();
  const ProcessResult result = collect.Wait();
  CAPTURE(result.err);
  CHECK(result.exit_code == 4);
  CHECK(result.err.find("rl-collect: error: robot " + socket + ": could not reconnect within 0.5 s") !=
        std::string::npos);
  const std::vector<Episode> episodes = ReadSorted(dir / "data");
  CHECK(episodes.size() >= shards);
  for (const Episode& e : episodes) CHECK(e.num_steps() >= 1);
}

TEST_CASE("rl-robot refuses unsafe or broken settings with one line and a documented code") {
  const ProcessResult open = RunProcess({ToolPath("rl-robot"), "serve", "--listen", "tcp://0.0.0.0:0"});
  CHECK(open.exit_code == 2);
  CHECK(open.err == "rl-robot: error: --listen tcp://0.0.0.0:0 is not a loopback address: give --robot.token (or "
                    "$PERPETUA_ROBOT_TOKEN) so that only clients knowing it can drive the robot\n");
  const ProcessResult bad = RunProcess({ToolPath("rl-robot"), "ping", "tcp://127.0.0.1"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("robot address 'tcp://127.0.0.1': missing host or port") != std::string::npos);
  const ProcessResult away = RunProcess({ToolPath("rl-robot"), "ping", "tcp://127.0.0.1:1"});
  CHECK(away.exit_code == 4);
  CHECK(away.err == "rl-robot: error: robot tcp://127.0.0.1:1: cannot connect: Connection refused\n");
  const ProcessResult collect = RunProcess({ToolPath("rl-collect"), "--env", "tcp://127.0.0.1:1", "--episodes",
                                            "1", "--out", "/nonexistent/x"});
  CHECK(collect.exit_code == 4);
  CHECK(collect.err.find("cannot connect") != std::string::npos);
  const ProcessResult serve_robot = RunProcess({ToolPath("rl-robot"), "serve", "--env", "tcp://127.0.0.1:1"});
  CHECK(serve_robot.exit_code == 2);
}

TEST_CASE("a robot token never reaches printed or saved configs") {
  const ProcessResult printed = RunProcess({ToolPath("rl-collect"), "--env", "tcp://127.0.0.1:1",
                                            "--robot.token", "hunter2", "--print-config"});
  REQUIRE(printed.exit_code == 0);
  CHECK(printed.out.find("hunter2") == std::string::npos);
  CHECK(printed.out.find("token: <redacted>") != std::string::npos);
  for (const char* verb : {"serve", "ping"}) {
    CAPTURE(verb);
    std::vector<std::string> argv = {ToolPath("rl-robot"), verb, "--robot.token", "hunter2", "--print-config"};
    if (std::string(verb) == "ping") argv.push_back("tcp://127.0.0.1:1");
    const ProcessResult robot = RunProcess(argv);
    REQUIRE(robot.exit_code == 0);
    CHECK(robot.out.find("hunter2") == std::string::npos);
    CHECK(robot.out.find("token: <redacted>") != std::string::npos);
  }
}

TEST_CASE("rl-robot serve stops on SIGTERM with the interrupted code") {
  TempDir dir;
  ChildProcess server(Serve({"--listen", "unix://" + dir / "s.sock"}));
  Started(server);
  server.Signal(SIGTERM);
  const ProcessResult result = server.Wait();
  CHECK(result.exit_code == 130);
  CHECK(result.err.find("stopped after 0 session(s)") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
