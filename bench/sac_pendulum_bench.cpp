// bench_sac_pendulum: SAC on pendulum from state (Gymnasium Pendulum-v1
// dynamics, lib/sim/pendulum_cell.h) as RLtools runs it: 10k environment
// steps, batch 100, 64-64 MLPs, one update per step, one thread
// (RlToolsPendulumConfig). Per seed: wall time, updates, the final return
// (mean over 10 evaluation episodes with the mean action) and where the time
// went (env, acting, replay, update: forward / backward / optimiser).
//
//   bench_sac_pendulum                              # 3 seeds, Perpetua only
//   bench_sac_pendulum --rltools-time T --rltools-eval E
//
// With --rltools-time/--rltools-eval (the RLtools driver built as docs/sac.md
// describes: one binary without and one with evaluation,
// each taking the seed as its argument and printing "wall X s" and, for the
// evaluating one, "Mean return: R" lines), the same seeds run through
// RLtools in the same process run, and the table gives the time ratio.
#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/error.h"
#include "nn/torch_runtime.h"
#include "sac/sac_env_loop.h"
#include "sim/pendulum_cell.h"

namespace perpetua {
namespace {

struct BenchConfig {
  int seeds = 3;
  int64_t steps = 10000;
  int eval_episodes = 10;
  int threads = 1;
  std::string rltools_time;  // RLtools driver without evaluation ("" = skip RLtools)
  std::string rltools_eval;  // RLtools driver with evaluation ("" = no RLtools return)
  void Visit(ConfigVisitor& v) {
    v.Field("seeds", seeds, "seeds 0..N-1");
    v.Field("steps", steps, "environment steps per run");
    v.Field("eval_episodes", eval_episodes, "evaluation episodes (mean action) after training");
    v.Field("threads", threads, "LibTorch intra-op threads");
    v.Field("rltools_time", rltools_time, "RLtools pendulum SAC driver without evaluation (timed)");
    v.Field("rltools_eval", rltools_eval, "RLtools pendulum SAC driver with evaluation (final return)");
  }
};

struct Row {
  double wall = 0.0, cpu = 0.0, final_return = 0.0;
};

// User + system CPU seconds of this process (RUSAGE_SELF) or of its finished children.
double CpuSeconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Runs `command`, returns its stdout. Throws Error(kEnvFailure) on failure.
std::string Capture(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) Fail(ExitCode::kEnvFailure, "cannot run " + command);
  std::string out;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe.get())) out.append(buffer.data(), n);
  return out;
}

// The last number after `label` in `text`, or NaN.
double LastNumber(const std::string& text, const std::string& label) {
  const std::regex pattern(label + "\\s*(-?[0-9.eE+-]+)");
  double value = std::nan("");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
    value = std::stod((*it)[1]);
  }
  return value;
}

Row RunRlTools(const BenchConfig& b, int seed) {
  Row row;
  const double cpu_before = CpuSeconds(RUSAGE_CHILDREN);
  const std::string timed = Capture(b.rltools_time + " " + std::to_string(seed));
  row.cpu = CpuSeconds(RUSAGE_CHILDREN) - cpu_before;
  row.wall = LastNumber(timed, "wall");
  row.final_return = b.rltools_eval.empty() ? std::nan("")
                                            : LastNumber(Capture(b.rltools_eval + " " + std::to_string(seed)),
                                                         "Mean return:");
  return row;
}

ExitCode Run(const BenchConfig& b) {
  ConfigureTorchRuntime("cpu", b.threads);
  std::fprintf(stderr, "pendulum SAC, %lld env steps, batch 100, 64-64 MLPs, 1 update/step, %d thread(s)\n",
               static_cast<long long>(b.steps), b.threads);
  std::fprintf(stderr, "%-4s %7s %7s %8s %7s | %-40s | %7s %7s %8s %6s %6s\n", "seed", "wall s", "cpu s",
               "updates", "return", "profile s: env act replay | fwd bwd optim | other", "RLt s", "RLt cpu",
               "RLt ret", "ratio", "cpu r.");
  double ours_total = 0.0, theirs_total = 0.0, ours_cpu = 0.0, theirs_cpu = 0.0;
  int solved = 0;
  for (int seed = 0; seed < b.seeds; ++seed) {
    EnvConfig env_config;
    env_config.name = "pendulum";
    sim::PendulumCell env(env_config);
    SacAgent learner(RlToolsPendulumConfig(), InputSpec::FromEnvSpec(env.spec(), "pendulum"), torch::kCPU,
                       seed);
    SacEnvLoopOptions options;
    options.env_steps = b.steps;
    options.seed = seed;
    const double cpu_before = CpuSeconds(RUSAGE_SELF);
    const SacEnvLoopResult run = RunSacOnEnv(env, learner, options);
    const double cpu = CpuSeconds(RUSAGE_SELF) - cpu_before;
    auto policy = learner.MakePolicy(SacActionMode::kMean, seed, "bench");
    const double final_return = MeanReturn(env, *policy, b.eval_episodes, 1000 + seed);
    solved += final_return >= -200.0;
    const SacUpdateTimes& t = learner.times();
    const double other = run.wall - run.env - run.acting - run.replay - t.forward - t.backward - t.optimizer;
    Row theirs{std::nan(""), std::nan(""), std::nan("")};
    if (!b.rltools_time.empty()) theirs = RunRlTools(b, seed);
    ours_total += run.wall;
    theirs_total += theirs.wall;
    ours_cpu += cpu;
    theirs_cpu += theirs.cpu;
    std::fprintf(stderr,
                 "%-4d %7.2f %7.2f %8lld %7.1f | %4.2f %4.2f %4.2f | %4.2f %4.2f %4.2f | %4.2f     | %7.2f %7.2f %8.1f "
                 "%6.2f %6.2f\n",
                 seed, run.wall, cpu, static_cast<long long>(run.updates), final_return, run.env, run.acting,
                 run.replay, t.forward, t.backward, t.optimizer, other, theirs.wall, theirs.cpu, theirs.final_return,
                 run.wall / theirs.wall, cpu / theirs.cpu);
  }
  std::fprintf(stderr, "solved (>= -200): %d of %d seeds; mean wall %.2f s", solved, b.seeds, ours_total / b.seeds);
  if (!b.rltools_time.empty()) {
    std::fprintf(stderr, "; RLtools %.2f s; wall ratio %.2f, CPU-time ratio %.2f (target <= 3)",
                 theirs_total / b.seeds, ours_total / theirs_total, ours_cpu / theirs_cpu);
  }
  std::fprintf(stderr, "\n");
  return ExitCode::kOk;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::BenchConfig config;
  perpetua::Tool tool("bench_sac_pendulum", "SAC on pendulum from state beside RLtools: wall time, return, profile");
  tool.SetMain(config, [&] { return perpetua::Run(config); });
  return tool.Main(argc, argv);
}
