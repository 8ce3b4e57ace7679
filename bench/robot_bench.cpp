// bench_robot: what the robot protocol costs per step.
//
//   bench_robot                         # all figures
//   bench_robot --steps 2000 --grasp-steps 400
//
// 1. Step round trip through RemoteEnv -> socket -> RobotServer -> a trivial
//    env that returns a fixed image, over loopback TCP and a Unix socket, at
//    64x64 and 640x480: the cost is the protocol (encode, copy, syscalls,
//    decode, checks), set beside the same env stepped in-process.
// 2. The grasp cell (64x64) stepped in-process and served over loopback TCP
//    in the same run: steps/s and the added milliseconds per step.
// The server runs on a thread of this process; on a shared 2-core machine
// the figures are noisy: take the median.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "common/cli.h"
#include "common/rng.h"
#include "env_factory/make_env.h"
#include "robot/remote_env.h"
#include "robot/robot_server.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchConfig {
  int steps = 3000;        // timed steps per protocol case (640x480: a fifth)
  int grasp_steps = 600;   // timed grasp steps, in-process and served
  void Visit(ConfigVisitor& v) {
    v.Field("steps", steps, "timed steps per protocol case (640x480 runs a fifth of them)");
    v.Field("grasp_steps", grasp_steps, "timed grasp-cell steps, in-process and served");
  }
};

// Returns a fixed [H, W, 3] image and a 7-vector; never ends an episode.
class FixedImageEnv : public Env {
 public:
  FixedImageEnv(int height, int width) {
    spec_.name = "fixed-image";
    spec_.observations = {{"image", DType::kUint8, {height, width, 3}}, {"proprio", DType::kFloat32, {7}}};
    spec_.action.low.assign(6, -1.0f);
    spec_.action.high.assign(6, 1.0f);
    spec_.max_episode_steps = 100000000;
    observation_["image"] = Array::Zeros(DType::kUint8, {height, width, 3});
    for (size_t i = 0; i < observation_["image"].u8.size(); ++i) observation_["image"].u8[i] = uint8_t(i);
    observation_["proprio"] = Array::FromFloats({1, 2, 3, 4, 5, 6, 7});
  }
  const EnvSpec& spec() const override { return spec_; }

 protected:
  ResetResult DoReset(uint64_t, const nlohmann::json&) override { return {observation_, {}}; }
  StepResult DoStep(const std::vector<float>&) override { return {observation_, 0.0, false, false, {}}; }

 private:
  EnvSpec spec_;
  Observation observation_;
};

// A RobotServer on its own thread (the env is built there).
class ServerThread {
 public:
  ServerThread(const std::string& listen, std::function<std::unique_ptr<Env>()> make_env) {
    std::promise<std::string> ready;
    auto address = ready.get_future();
    thread_ = std::thread([this, listen, make_env, ready = std::move(ready)]() mutable {
      robot::RobotServerOptions options;
      options.listen = listen;
      robot::RobotServer server(options, make_env);
      ready.set_value(server.address().ToString());
      server.Serve([this] { return stop_.load(); });
    });
    address_ = address.get();
  }
  ~ServerThread() {
    stop_ = true;
    thread_.join();
  }
  const std::string& address() const { return address_; }

 private:
  std::atomic<bool> stop_{false};
  std::string address_;
  std::thread thread_;
};

struct Timing {
  double mean_us = 0, median_us = 0, p99_us = 0;
};

// Times `steps` Step() calls of `env` (after a warm-up).
Timing TimeSteps(Env& env, int steps, const std::vector<float>& action) {
  env.Reset(1);
  for (int i = 0; i < std::min(100, steps); ++i) env.Step(action);
  std::vector<double> us;
  us.reserve(size_t(steps));
  for (int i = 0; i < steps; ++i) {
    const auto start = Clock::now();
    env.Step(action);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  Timing t;
  t.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / double(us.size());
  std::sort(us.begin(), us.end());
  t.median_us = us[us.size() / 2];
  t.p99_us = us[std::min(us.size() - 1, size_t(double(us.size()) * 0.99))];
  return t;
}

EnvConfig Client(const std::string& address) {
  EnvConfig config;
  config.name = address;
  config.robot.watchdog_s = 0;
  return config;
}

// Steps/s of `env` over `steps` steps of a random policy (episodes restart).
double StepsPerSecond(Env& env, int steps) {
  Rng rng(7);
  std::vector<float> action(size_t(env.spec().action.dim()));
  uint64_t seed = 1;
  env.Reset(seed);
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) {
    for (float& a : action) a = float(rng.Uniform(-1.0, 1.0));
    action.back() = -1.0f;  // grasp: never "terminate" early
    const StepResult r = env.Step(action);
    if (r.terminated || r.truncated) env.Reset(++seed);
  }
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

int Run(const BenchConfig& config) {
  const std::vector<float> action(6, 0.1f);
  const std::string socket = "/tmp/bench_robot-" + std::to_string(::getpid()) + ".sock";
  std::printf("step round trip, fixed-image env (us per step: mean / median / p99)\n");
  std::printf("%-10s %-9s %28s %28s %12s\n", "image", "transport", "remote", "in-process", "added ms");
  for (const auto& [h, w] : std::vector<std::pair<int, int>>{{64, 64}, {480, 640}}) {
    const int steps = h == 64 ? config.steps : std::max(1, config.steps / 5);
    FixedImageEnv local(h, w);
    const Timing base = TimeSteps(local, steps, action);
    for (const std::string& listen : {std::string("tcp://127.0.0.1:0"), "unix://" + socket}) {
      ServerThread server(listen, [h = h, w = w] { return std::make_unique<FixedImageEnv>(h, w); });
      robot::RemoteEnv remote(Client(server.address()));
      const Timing t = TimeSteps(remote, steps, action);
      char image[32];
      std::snprintf(image, sizeof image, "%dx%d", w, h);
      std::printf("%-10s %-9s %9.1f / %7.1f / %7.1f %9.2f / %7.2f / %7.2f %12.3f\n", image,
                  listen.substr(0, listen.find(':')).c_str(), t.mean_us, t.median_us, t.p99_us, base.mean_us,
                  base.median_us, base.p99_us, (t.median_us - base.median_us) / 1000.0);
    }
  }

  if (config.grasp_steps > 0) {
    EnvConfig grasp;
    grasp.image_size = 64;
    double in_process = 0.0, served = 0.0;
    {
      std::unique_ptr<Env> env = MakeEnv(grasp);
      in_process = StepsPerSecond(*env, config.grasp_steps);
    }
    {
      ServerThread server("tcp://127.0.0.1:0", [grasp] { return MakeEnv(grasp); });
      robot::RemoteEnv remote(Client(server.address()));
      served = StepsPerSecond(remote, config.grasp_steps);
    }
    std::printf("\ngrasp cell 64x64, random actions, %d steps\n", config.grasp_steps);
    std::printf("  in-process      %8.1f steps/s (%.3f ms/step)\n", in_process, 1000.0 / in_process);
    std::printf("  served over tcp %8.1f steps/s (%.3f ms/step)\n", served, 1000.0 / served);
    std::printf("  added           %8.3f ms/step (%.0f%% of in-process throughput kept)\n",
                1000.0 / served - 1000.0 / in_process, 100.0 * served / in_process);
  }
  return 0;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::Tool tool("bench_robot", "Step round trip and throughput of the robot protocol.");
  perpetua::BenchConfig config;
  tool.SetMain(config, [&] { return perpetua::ExitCode(perpetua::Run(config)); });
  return tool.Main(argc, argv);
}
