// bench_env: speed of each simulated cell and success of the scripted and
// random policies on held-out objects; optionally writes the cell pictures.
//
//   bench_env                                   # all figures, all cells
//   bench_env --cells grasp --episodes 200      # grasp success rates
//   bench_env --pictures docs/img --episodes 0 --speed-steps 0
//
// Speed: one thread; env steps/s with a 64x64 render and the cell's physics
// substeps, beside physics-only and render-only time measured in the same
// run (their sum against the full step shows the env's own overhead). Both
// wall-clock and thread-CPU rates are printed: on a shared machine the CPU
// rate is the one-core figure.
// The renderer sets LP_NUM_THREADS=0 (llvmpipe rasterises on the calling
// thread) unless the environment sets it, so the figures are for one core.
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/error.h"
#include "common/rng.h"
#include "env_factory/make_env.h"
#include "env/state_render.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "sim/png.h"
#include "sim/sim_cell.h"

namespace perpetua {
namespace {

struct BenchConfig {
  std::vector<std::string> cells = {"grasp", "push", "door", "pendulum"};
  int episodes = 200;        // success episodes per policy (0: skip)
  int speed_steps = 2000;    // env steps timed per cell (0: skip)
  std::string objects = "heldout";
  std::string renderer = "auto";
  std::string pictures;      // directory for PNG pictures ("" : none)
  uint64_t seed = 1;

  void Visit(ConfigVisitor& v) {
    v.Field("cells", cells, "cells to measure");
    v.Field("episodes", episodes, "episodes per policy for success rates (0: skip)");
    v.Field("speed_steps", speed_steps, "env steps timed per cell (0: skip)");
    v.Field("objects", objects, "grasp object set for success rates");
    v.Field("renderer", renderer, "auto | egl | osmesa");
    v.Field("pictures", pictures, "write <cell>_64.png, <cell>_64x4.png, <cell>_256.png here");
    v.Field("seed", seed, "base seed of every episode");
  }
};

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}
// CPU time of the calling thread (s): robust on a shared, loaded machine.
double ThreadCpu() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

EnvConfig CellConfig(const BenchConfig& bench, const std::string& cell) {
  EnvConfig config;
  config.name = cell;
  config.renderer = bench.renderer;
  config.objects = bench.objects;
  return config;
}

void MeasureSpeed(const BenchConfig& bench, const std::string& cell) {
  std::unique_ptr<Env> env = MakeEnv(CellConfig(bench, cell));
  std::unique_ptr<Policy> policy = MakeRandomPolicy(env->spec(), bench.seed);
  const int terminate = cell == "grasp" ? 5 : -1;  // keep grasp episodes going
  double step_time = 0, step_cpu = 0, reset_time = 0;
  int resets = 0;
  Observation observation;
  nlohmann::json info;
  auto Reset = [&](uint64_t seed) {
    const Clock::time_point start = Clock::now();
    ResetResult reset = env->Reset(seed);
    reset_time += Seconds(start);
    ++resets;
    policy->BeginEpisode(seed);
    observation = std::move(reset.observation);
    info = std::move(reset.info);
  };
  Reset(bench.seed);
  for (int i = 0; i < bench.speed_steps; ++i) {
    std::vector<float> action = policy->Act(observation, info);
    if (terminate >= 0) action[terminate] = -1.0f;
    const Clock::time_point start = Clock::now();
    const double cpu_start = ThreadCpu();
    StepResult step = env->Step(action);
    step_cpu += ThreadCpu() - cpu_start;
    step_time += Seconds(start);
    observation = std::move(step.observation);
    info = std::move(step.info);
    if (step.terminated || step.truncated) Reset(bench.seed + static_cast<uint64_t>(i) + 1);
  }
  auto* sim = dynamic_cast<sim::SimCell*>(env.get());
  double physics_time = 0, render_time = 0;
  if (sim != nullptr) {
    Reset(bench.seed);
    const double physics_start = ThreadCpu();
    for (int i = 0; i < bench.speed_steps; ++i) sim->BenchPhysicsStep();
    physics_time = ThreadCpu() - physics_start;
    Reset(bench.seed);
    const double render_start = ThreadCpu();
    for (int i = 0; i < bench.speed_steps; ++i) sim->BenchRender();
    render_time = ThreadCpu() - render_start;
  }
  const double n = bench.speed_steps;
  std::printf("%-9s %9.0f %9.0f %10.3f %11.3f %10.3f %9.2f %9.2f", cell.c_str(), n / step_time,
              n / step_cpu, 1e3 * step_cpu / n, 1e3 * physics_time / n, 1e3 * render_time / n,
              1e3 * reset_time / resets, (physics_time + render_time) / step_cpu);
  if (sim != nullptr) {
    std::printf("  (%d substeps, %s)\n", sim->substeps_per_step(),
                sim::GlBackendName(sim->render_backend()));
  } else {
    std::printf("  (no physics engine, no render)\n");
  }
}

// Success rate of `policy` over `episodes` episodes with seeds derived from `seed`.
void MeasureSuccess(const BenchConfig& bench, const std::string& cell, const std::string& which) {
  std::unique_ptr<Env> env = MakeEnv(CellConfig(bench, cell));
  std::unique_ptr<Policy> policy = which == "scripted"
                                       ? MakeScriptedPolicy(env->spec())
                                       : MakeRandomPolicy(env->spec(), bench.seed);
  int successes = 0;
  int64_t steps = 0;
  const Clock::time_point start = Clock::now();
  for (int e = 0; e < bench.episodes; ++e) {
    const uint64_t seed = DeriveSeed(bench.seed, /*stream=*/1, static_cast<uint64_t>(e));
    ResetResult reset = env->Reset(seed);
    policy->BeginEpisode(seed);
    Observation observation = std::move(reset.observation);
    nlohmann::json info = std::move(reset.info);
    bool success = false;
    while (true) {
      StepResult step = env->Step(policy->Act(observation, info));
      ++steps;
      observation = std::move(step.observation);
      info = std::move(step.info);
      success = info.value("success", false);  // success at the end of the episode
      if (step.terminated || step.truncated) break;
    }
    successes += success ? 1 : 0;
  }
  // Wilson 95% interval.
  const double n = bench.episodes, p = successes / n, z = 1.96;
  const double center = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  std::printf("%-9s %-9s %-8s %5d/%-5d %6.1f%%  [%5.1f%%, %5.1f%%]  %5.1f steps/ep  %5.1f s\n",
              cell.c_str(), which.c_str(), cell == "grasp" ? bench.objects.c_str() : "-",
              successes, bench.episodes, 100 * p, 100 * (center - half), 100 * (center + half),
              steps / n, Seconds(start));
}

void WritePictures(const BenchConfig& bench, const std::string& cell) {
  EnvConfig config = CellConfig(bench, cell);
  config.objects = "train";
  config.max_objects = 3;
  std::unique_ptr<Env> env = MakeEnv(config);
  StateRenderer* renderer = AsStateRenderer(*env);
  if (renderer == nullptr) return;
  std::unique_ptr<Policy> policy = MakeScriptedPolicy(env->spec());
  nlohmann::json options = nlohmann::json::object();
  if (cell == "grasp") options["object_ids"] = {12, 345, 678};  // three training objects
  if (cell == "door") options["goal_angle"] = 0.9;
  ResetResult reset = env->Reset(bench.seed + 2, options);
  policy->BeginEpisode(bench.seed + 2);
  Observation observation = std::move(reset.observation);
  nlohmann::json info = std::move(reset.info);
  const int steps = cell == "pendulum" ? 30 : cell == "grasp" ? 2 : cell == "door" ? 30 : 8;
  for (int i = 0; i < steps; ++i) {  // some steps in, so the robot is in action
    StepResult step = env->Step(policy->Act(observation, info));
    observation = std::move(step.observation);
    info = std::move(step.info);
  }
  const std::string stem = bench.pictures + "/" + cell;
  // State-only cells (pendulum) draw their current state on request.
  const Array image = observation.count("image") ? observation.at("image")
                                                 : renderer->RenderState(nlohmann::json::object()).at("image");
  sim::WritePng(stem + "_64.png", image);
  sim::WritePng(stem + "_64x4.png", image, 4);
  sim::WritePng(stem + "_256.png", renderer->RenderPicture(256));
  std::fprintf(stderr, "wrote %s_{64,64x4,256}.png\n", stem.c_str());
}

ExitCode Run(const BenchConfig& bench) {
  if (bench.speed_steps > 0) {
    std::printf("Per env step, one thread. cpu: the thread's CPU time (robust on a shared machine);\n"
                "wall: elapsed time. physics and render are measured alone in the same run.\n");
    std::printf("cell      steps/s   steps/s   step(ms) physics(ms) render(ms) reset(ms) (phys+rend)\n"
                "             wall       cpu        cpu         cpu        cpu      wall   /step cpu\n");
    for (const std::string& cell : bench.cells) MeasureSpeed(bench, cell);
  }
  if (bench.episodes > 0) {
    std::printf("\ncell      policy    objects  success      rate  95%% interval\n");
    for (const std::string& cell : bench.cells) {
      MeasureSuccess(bench, cell, "scripted");
      MeasureSuccess(bench, cell, "random");
    }
  }
  if (!bench.pictures.empty()) {
    for (const std::string& cell : bench.cells) WritePictures(bench, cell);
  }
  return ExitCode::kOk;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::BenchConfig config;
  perpetua::Tool tool("bench_env", "Env speed, scripted/random success rates and pictures.");
  tool.SetMain(config, [&] { return perpetua::Run(config); });
  return tool.Main(argc, argv);
}
