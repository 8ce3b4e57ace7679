// bench_dist: what data-parallel training adds to a step. For the default
// networks of rl-train q (grasp, 64x64 pixels) and rl-train sac (push from
// 64x64 pixels; pendulum from its state vector), it times
//   - one gradient update in one process, one thread, batch 64 (the baseline),
//   - the all-reduce of that update's gradients (Collective::AverageGradients,
//     Gloo over loopback, as rl-train --dist.* runs it) with 2 and 4 ranks:
//     separate processes (this program started again), one thread each,
//     all reducing together,
// and prints milliseconds and the all-reduce's share of a step,
// allreduce / (update + allreduce), in one run.
//
//   bench_dist [--ranks 2,4] [--repeats 40] [--batch 64]
//
// SAC's update reduces the critics' (and encoder's) gradients every update
// and the actor's on actor updates (every one by default), plus one number
// (the entropy for the temperature); QT-Opt's, the Q-network's.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/rng.h"
#include "dist/collective.h"
#include "env_factory/make_env.h"
#include "nn/input_spec.h"
#include "nn/torch_runtime.h"
#include "qtopt/q_learner.h"
#include "sac/sac_agent.h"

extern char** environ;

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point from) { return std::chrono::duration<double, std::milli>(Clock::now() - from).count(); }

struct Net {
  std::string name;
  std::vector<int64_t> grads;  // numel of each all-reduced gradient buffer per update
  double update_ms = 0.0;      // one update in one process
};

EnvSpec CellSpec(const std::string& cell) {
  EnvConfig config;
  config.name = cell;
  return MakeEnv(config)->spec();
}

TensorBatch RandomBatch(const InputSpec& spec, int64_t b) {
  TensorBatch t;
  if (!spec.image_keys.empty()) {
    t.image = torch::randint(0, 256, {b, spec.height, spec.width, spec.image_channels()}, torch::kUInt8);
    t.next_image = torch::randint(0, 256, {b, spec.height, spec.width, spec.image_channels()}, torch::kUInt8);
  }
  t.proprio = torch::randn({b, spec.proprio_dim});
  t.next_proprio = torch::randn({b, spec.proprio_dim});
  t.action = torch::rand({b, spec.action_dim()}) * 2 - 1;
  t.reward = torch::rand({b});
  t.terminated = torch::zeros({b});
  return t;
}

template <class Step>
double TimeMs(int repeats, Step step) {
  for (int i = 0; i < 3; ++i) step();
  const auto start = Clock::now();
  for (int i = 0; i < repeats; ++i) step();
  return Ms(start) / repeats;
}

std::vector<Net> Networks(int repeats, int64_t batch) {
  std::vector<Net> nets;
  {
    const QInputSpec spec = QInputSpec::FromEnvSpec(CellSpec("grasp"), "grasp");
    QLearner learner(QNetworkConfig{}, spec, OptimizerConfig{}, BellmanConfig{}, torch::kCPU, 1);
    int64_t n = 0;
    for (const auto& p : learner.online().parameters()) n += p.numel();
    const TensorBatch t = RandomBatch(spec, batch);
    const torch::Tensor target = torch::rand({batch});
    at::Generator generator = at::detail::createCPUGenerator(1);
    const double ms = TimeMs(repeats / 4 + 1, [&] { learner.Update(t.image, t.proprio, t.action, target, generator); });
    nets.push_back({"q (grasp, pixels)", {n}, ms});
  }
  for (const std::string cell : {"push", "pendulum"}) {
    const InputSpec spec = InputSpec::FromEnvSpec(CellSpec(cell), cell);
    SacConfig config;
    SacAgent agent(config, spec, torch::kCPU, 1);
    const auto state = agent.ReplicatedState();
    const TensorBatch t = RandomBatch(spec, batch);
    at::Generator generator = at::detail::createCPUGenerator(1);
    const double ms = TimeMs(cell == "push" ? repeats / 4 + 1 : repeats, [&] { agent.Update(t, generator); });
    nets.push_back({"sac (" + cell + (spec.image_keys.empty() ? ", state)" : ", pixels)"),
                    {state[0].numel(), state[1].numel(), 1}, ms});
  }
  return nets;
}

// A rank: meets the others, times `repeats` all-reduces of each network's
// buffers, and (rank 0) prints "name ms" lines.
int RunRank(int rank, int world, int port, int repeats, const std::vector<Net>& nets) {
  auto collective = Collective::Connect(LoopbackPlan(rank, world, port, 120.0), "bench\n");
  for (const Net& net : nets) {
    std::vector<torch::Tensor> buffers;
    for (int64_t n : net.grads) buffers.push_back(torch::randn({n}));
    collective->Barrier("start");
    const double ms = TimeMs(repeats, [&] {
      for (const auto& b : buffers) collective->AverageGradients({b});
    });
    if (rank == 0) std::printf("%s\t%.4f\n", net.name.c_str(), ms);
  }
  std::fflush(stdout);
  return 0;
}

std::vector<int> IntList(const std::string& text) {
  std::vector<int> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = text.find(',', begin);
    out.push_back(std::atoi(text.substr(begin, end - begin).c_str()));
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  using namespace perpetua;
  std::map<std::string, std::string> flags = {{"--ranks", "2,4"}, {"--repeats", "40"}, {"--batch", "64"},
                                              {"--rank", "-1"},   {"--world", "0"},     {"--port", "0"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!flags.count(argv[i])) {
      std::fprintf(stderr, "bench_dist: unknown flag %s (--ranks, --repeats, --batch)\n", argv[i]);
      return 2;
    }
    flags[argv[i]] = argv[i + 1];
  }
  ConfigureTorchRuntime("cpu", 1);
  const int repeats = std::atoi(flags["--repeats"].c_str());
  const int rank = std::atoi(flags["--rank"].c_str());
  if (rank >= 0) {
    // A child: only the buffer sizes matter, not the timings.
    std::vector<Net> nets;
    const char* sizes = std::getenv("BENCH_DIST_SIZES");
    std::string spec = sizes ? sizes : "";
    size_t begin = 0;
    while (begin < spec.size()) {
      const size_t end = spec.find(';', begin);
      const std::string item = spec.substr(begin, end - begin);
      const size_t tab = item.find('=');
      Net net;
      net.name = item.substr(0, tab);
      for (int n : IntList(item.substr(tab + 1))) net.grads.push_back(n);
      nets.push_back(net);
      if (end == std::string::npos) break;
      begin = end + 1;
    }
    return RunRank(rank, std::atoi(flags["--world"].c_str()), std::atoi(flags["--port"].c_str()), repeats, nets);
  }
  const std::vector<Net> nets = Networks(repeats, std::atoll(flags["--batch"].c_str()));
  std::string sizes;
  for (const Net& net : nets) {
    if (!sizes.empty()) sizes += ';';
    sizes += net.name + "=";
    for (size_t i = 0; i < net.grads.size(); ++i) sizes += (i ? "," : "") + std::to_string(net.grads[i]);
  }
  setenv("BENCH_DIST_SIZES", sizes.c_str(), 1);
  std::map<int, std::map<std::string, double>> allreduce_ms;
  for (int world : IntList(flags["--ranks"])) {
    const int port = 20000 + static_cast<int>(Mix64(static_cast<uint64_t>(getpid()) * 31 + world) % 30000);
    std::vector<pid_t> children;
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) return 1;
    for (int r = 0; r < world; ++r) {
      std::vector<std::string> args = {"/proc/self/exe", "--rank", std::to_string(r), "--world", std::to_string(world),
                                       "--port", std::to_string(port), "--repeats", std::to_string(repeats)};
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      if (r == 0) posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], 1);
      posix_spawn_file_actions_addclose(&actions, pipe_fd[0]);
      pid_t pid = 0;
      if (posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, cargs.data(), environ) != 0) return 1;
      posix_spawn_file_actions_destroy(&actions);
      children.push_back(pid);
    }
    close(pipe_fd[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(pipe_fd[0], buffer, sizeof(buffer))) > 0;) out.append(buffer, static_cast<size_t>(n));
    close(pipe_fd[0]);
    for (pid_t pid : children) {
      int status = 0;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "bench_dist: a rank of %d failed\n", world);
        return 1;
      }
    }
    size_t begin = 0;
    while (begin < out.size()) {
      const size_t end = out.find('\n', begin);
      const std::string line = out.substr(begin, end - begin);
      const size_t tab = line.find('\t');
      if (tab != std::string::npos) allreduce_ms[world][line.substr(0, tab)] = std::atof(line.c_str() + tab + 1);
      if (end == std::string::npos) break;
      begin = end + 1;
    }
  }
  std::printf("batch %s, one thread per process, Gloo over loopback; update = one gradient step in one process\n",
              flags["--batch"].c_str());
  std::printf("%-22s %12s %11s", "network", "parameters", "update ms");
  for (const auto& [world, _] : allreduce_ms) std::printf("   allreduce ms (%d)  share (%d)", world, world);
  std::printf("\n");
  for (const Net& net : nets) {
    int64_t params = 0;
    for (int64_t n : net.grads) params += n;
    std::printf("%-22s %12lld %11.2f", net.name.c_str(), static_cast<long long>(params - (net.grads.size() > 1)),
                net.update_ms);
    for (const auto& [world, row] : allreduce_ms) {
      const double ms = row.count(net.name) ? row.at(net.name) : 0.0;
      std::printf("   %17.3f  %9.1f%%", ms, 100.0 * ms / (net.update_ms + ms));
    }
    std::printf("\n");
  }
  return 0;
}
