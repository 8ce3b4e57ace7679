// rl-robot: serve a simulated cell over the robot protocol, or check a robot.
// See lib/robot/robot_server.h, lib/robot/remote_env.h and docs/protocol.md.
//
//   rl-robot serve --env grasp --listen tcp://127.0.0.1:5555   (prints the bound address)
//   rl-robot ping tcp://127.0.0.1:5555                        (prints specs and round trips as JSON)
//
// Exit codes: 0 ok, 2 usage, 4 robot unreachable or failed, 130 stopped by a signal.
#include <cstdio>
#include <cstdlib>

#include "common/cli.h"
#include "env_factory/make_env.h"
#include "robot/remote_env.h"
#include "robot/robot_server.h"
#include "robot/robot_token.h"

namespace {

using perpetua::ExitCode;

struct PingConfig {
  std::string address;      // tcp://HOST:PORT or unix:///PATH
  perpetua::RobotTokenConfig robot;  // --robot.token; "" = $PERPETUA_ROBOT_TOKEN or none
  int count = 20;           // PING/PONG exchanges
  double timeout_s = 5.0;   // per connection/exchange
  void Visit(perpetua::ConfigVisitor& v) {
    v.Field("address", address, "robot address: tcp://HOST:PORT or unix:///PATH", perpetua::FieldKind::kPositional);
    v.Group("robot", robot, "the robot's shared secret");
    v.Field("count", count, "ping/pong exchanges to time (0..100000)");
    v.Field("timeout_s", timeout_s, "seconds allowed to connect and per exchange");
  }
};

ExitCode RunPing(const PingConfig& config) {
  if (config.count < 0 || config.count > 100000) perpetua::Fail(ExitCode::kUsage, "--count must be in 0..100000");
  if (!(config.timeout_s > 0)) perpetua::Fail(ExitCode::kUsage, "--timeout-s must be > 0");
  const nlohmann::json result = perpetua::robot::PingRobot(
      config.address, perpetua::robot::ResolveRobotToken(config.robot.token), config.count, config.timeout_s);
  const std::string text = result.dump(2) + "\n";
  if (std::fputs(text.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
    perpetua::Fail(ExitCode::kIoError, "cannot write to stdout");
  }
  return ExitCode::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  perpetua::Tool tool("rl-robot", "Serve a simulated cell over the robot protocol, or check a robot.");
  perpetua::robot::ServeConfig serve;
  PingConfig ping;
  tool.AddVerb("serve", "serve a simulated cell as a robot (loopback unless --robot.token); prints the address",
               serve, [&] { return perpetua::robot::RunServe(serve, [](const perpetua::EnvConfig& env) { return perpetua::MakeEnv(env); }); });
  tool.AddVerb("ping", "handshake with a robot; print its specs and round trips as JSON", ping,
               [&] { return RunPing(ping); });
  return tool.Main(argc, argv);
}
