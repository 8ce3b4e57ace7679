// bench_train: QT-Opt gradient steps/s and the share of wall time the trainer
// spends inside its update (forward, backward, optimiser) rather than waiting
// for data or Bellman targets, with 0 workers (targets inline: the baseline)
// and with N asynchronous target workers, side by side, in one run.
//
//   bench_train                                  # batch 64 and 256, workers 0/1, 64x64
//   bench_train --batches 64 --workers 0,1,2 --trainer-threads 1,2
//   bench_train --only-tensorboard              # TensorBoard logging's share of a step
//
// Data: synthetic 64x64 episodes written as real HDF5 shards into a scratch
// directory and read back through the dataset sampler (as rl-train q does),
// cached in memory. The first `warmup` steps of each configuration are not
// timed. Figures are wall-clock on whatever else the machine is doing.
//
// TensorBoard: a run of --tensorboard-steps steps at the first batch size,
// inline targets, with rl-train's default cadence (a row every 50 steps, 4
// images every 1000, a commit at every checkpoint, every 500): the seconds the
// run spends writing records (TrainingRun::tensorboard_seconds) as a share of
// its wall time and per step.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "common/fs.h"
#include "common/rng.h"
#include "data/dataset_writer.h"
#include "nn/torch_runtime.h"
#include "replay/dataset_replay.h"
#include "qtopt/q_policy.h"
#include "qtopt/trainer.h"

namespace perpetua {
namespace {

namespace fs = std::filesystem;

struct BenchConfig {
  std::vector<int> batches = {64, 256};
  std::vector<int> workers = {0, 1, 2, 3};
  std::vector<int> trainer_threads = {0};  // 0: as rl-train q (cores left by the workers)
  int worker_threads = 1;
  int steps = 40;       // timed steps per configuration (scaled down by batch/64)
  int warmup = 5;
  int image_size = 64;
  int episodes = 40;    // 20 steps each
  int cem_iterations = 2;
  int cem_samples = 64;
  std::string scratch = "/tmp";
  uint64_t seed = 1;
  int tensorboard_steps = 1000;
  bool only_tensorboard = false;
  void Visit(ConfigVisitor& v) {
    v.Field("batches", batches, "batch sizes to measure");
    v.Field("workers", workers, "Bellman-target worker counts to measure (0: inline baseline)");
    v.Field("trainer_threads", trainer_threads, "trainer intra-op thread counts to measure (0: cores left by the workers)");
    v.Field("worker_threads", worker_threads, "intra-op threads per target worker");
    v.Field("steps", steps, "timed gradient steps per configuration at batch 64 (fewer for larger batches)");
    v.Field("warmup", warmup, "untimed steps first");
    v.Field("image_size", image_size, "square image side");
    v.Field("episodes", episodes, "synthetic 20-step episodes in the dataset");
    v.Field("cem_iterations", cem_iterations, "CEM rounds for the targets");
    v.Field("cem_samples", cem_samples, "CEM samples per round");
    v.Field("scratch", scratch, "directory for the scratch dataset and checkpoints");
    v.Field("seed", seed, "seed");
    v.Field("tensorboard_steps", tensorboard_steps, "steps of the TensorBoard cost run (0: none)");
    v.Field("only_tensorboard", only_tensorboard, "measure the TensorBoard cost only");
  }
};

Episode SyntheticEpisode(uint64_t seed, int size) {
  Rng rng(seed);
  const int n = 20;
  Episode e;
  Array image = Array::Zeros(DType::kUint8, {n + 1, size, size, 3});
  for (auto& v : image.u8) v = static_cast<uint8_t>(rng.UniformInt(256));
  Array proprio = Array::Zeros(DType::kFloat32, {n + 1, 2});
  for (auto& v : proprio.f32) v = static_cast<float>(rng.Uniform());
  e.observations["image"] = image;
  e.observations["proprio"] = proprio;
  e.actions = Array::Zeros(DType::kFloat32, {n, 6});
  for (auto& v : e.actions.f32) v = static_cast<float>(rng.Uniform(-1, 1));
  e.rewards.assign(n, -0.02f);
  e.terminated.assign(n, 0);
  e.truncated.assign(n, 0);
  if (rng.Uniform() < 0.5) {
    e.rewards.back() = 1.0f;
    e.terminated.back() = 1;
  } else {
    e.truncated.back() = 1;
  }
  return e;
}

struct Figures {
  double steps_per_s = 0, update_fraction = 0;
};

Figures Measure(const BenchConfig& b, const std::string& data, int batch, int workers, int threads, int run) {
  QTrainConfig c;
  c.data = {data};
  c.out = b.scratch + "/bench_train_out_" + std::to_string(getpid()) + "_" + std::to_string(run);
  c.batch_size = batch;
  c.threads = threads;
  c.target_workers.count = workers;
  c.target_workers.threads = b.worker_threads;
  c.target_workers.queue = 4;
  c.cem.iterations = b.cem_iterations;
  c.cem.samples = b.cem_samples;
  c.checkpoint_every = 1 << 30;
  c.log_every = 1 << 30;
  c.seed = b.seed;
  const int timed = std::max(5, b.steps * 64 / batch);
  c.steps = b.warmup + timed;
  QTrainer trainer(c, "bench", [&](const std::vector<std::string>& dirs, const ShardSubset& subset) {
    DatasetSamplerConfig dataset;
    dataset.memory_budget_mb = 2048;
    return OpenDatasetReplay(dirs, dataset, subset);
  });
  trainer.Init();
  for (int i = 0; i < b.warmup; ++i) trainer.Step();
  const double update0 = trainer.update_seconds();
  const auto start = std::chrono::steady_clock::now();
  while (trainer.Step()) {
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Figures f;
  f.steps_per_s = timed / wall;
  f.update_fraction = (trainer.update_seconds() - update0) / wall;
  trainer.Finish();
  std::system(("rm -rf '" + c.out + "'").c_str());
  return f;
}

// TensorBoard logging's share of a training run at rl-train's default cadence.
void MeasureTensorBoard(const BenchConfig& b, const std::string& data) {
  if (b.tensorboard_steps < 1) Fail(ExitCode::kUsage, "--tensorboard-steps must be >= 1");
  QTrainConfig c;
  c.data = {data};
  c.out = b.scratch + "/bench_train_tensorboard_" + std::to_string(getpid());
  c.batch_size = b.batches.front();
  c.target_workers.count = 0;
  c.cem.iterations = b.cem_iterations;
  c.cem.samples = b.cem_samples;
  c.steps = b.tensorboard_steps;
  c.seed = b.seed;
  QTrainer trainer(c, "bench", [&](const std::vector<std::string>& dirs, const ShardSubset& subset) {
    DatasetSamplerConfig dataset;
    dataset.memory_budget_mb = 2048;
    return OpenDatasetReplay(dirs, dataset, subset);
  });
  trainer.Init();
  while (trainer.Step()) {
  }
  trainer.Finish();
  const double wall = trainer.wall_seconds(), logging = trainer.tensorboard_seconds();
  std::printf("\nTensorBoard at rl-train's cadence (rows every %d steps, %d images every %d, commit every %d):\n",
              c.log_every, c.tensorboard.images, c.tensorboard.image_every, c.checkpoint_every);
  std::printf("%-6s %8s %10s %14s %16s %12s\n", "batch", "steps", "wall s", "logging ms", "us per step",
              "share %");
  std::printf("%-6d %8lld %10.2f %14.3f %16.2f %12.4f   (target <= 1%%)\n", c.batch_size,
              static_cast<long long>(c.steps), wall,
              logging * 1e3, logging * 1e6 / c.steps, 100 * logging / wall);
  std::fflush(stdout);
  std::system(("rm -rf '" + c.out + "'").c_str());
}

// Steps/s of the rl-train q binary beside this one (a fresh process, so the
// allocator starts from its settings), inline targets, 1 thread: the rate
// of its last metrics row. `env` prefixes the command (e.g. "VAR=value").
double MeasureTool(const BenchConfig& b, const std::string& data, int batch, int run, const std::string& env) {
  const std::string tool = (fs::read_symlink("/proc/self/exe").parent_path() / "rl-train").string();
  const std::string out = b.scratch + "/bench_train_tool_" + std::to_string(getpid()) + "_" + std::to_string(run);
  const int steps = b.warmup + std::max(5, b.steps * 64 / batch);
  const std::string command = env + " '" + tool + "' q --data '" + data + "' --out '" + out + "' --steps " +
                              std::to_string(steps) + " --batch-size " + std::to_string(batch) +
                              " --target-workers.count 0 --threads 1 --checkpoint-every 1000000 --log-every " +
                              std::to_string(std::max(1, steps / 2)) + " --cem.iterations " +
                              std::to_string(b.cem_iterations) + " --cem.samples " + std::to_string(b.cem_samples) +
                              " --seed " + std::to_string(b.seed) + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) Fail(ExitCode::kEnvFailure, "bench_train: failed: " + command);
  std::ifstream metrics(out + "/metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) {
    if (!line.empty()) last = line;
  }
  std::system(("rm -rf '" + out + "'").c_str());
  if (last.empty()) Fail(ExitCode::kEnvFailure, "bench_train: no metrics from " + tool);
  return nlohmann::json::parse(last).at("steps_per_s").get<double>();
}

// The robot's control latency: one CEM action selection for one state by a
// checkpoint policy (default network, the bench's CEM settings), beside one
// plain Q evaluation (a single action) in the same run.
void MeasureActLatency(const BenchConfig& b, const std::string& data) {
  QTrainConfig c;
  c.data = {data};
  c.out = b.scratch + "/bench_train_policy_" + std::to_string(getpid());
  c.steps = 1;
  c.target_workers.count = 0;
  c.cem.iterations = b.cem_iterations;
  c.cem.samples = b.cem_samples;
  c.seed = b.seed;
  {
    QTrainer trainer(c, "bench", [&](const std::vector<std::string>& dirs, const ShardSubset& subset) {
      return OpenDatasetReplay(dirs, DatasetSamplerConfig{}, subset);
    });
    trainer.Init();
    while (trainer.Step()) {
    }
    trainer.Finish();
  }
  EnvSpec spec;
  spec.name = "bench";
  spec.observations = {{"image", DType::kUint8, {b.image_size, b.image_size, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low.assign(6, -1.0f);
  spec.action.high.assign(6, 1.0f);
  const Episode e = SyntheticEpisode(b.seed, b.image_size);
  Observation obs;
  obs["image"] = Array::Zeros(DType::kUint8, {b.image_size, b.image_size, 3});
  std::copy_n(e.observations.at("image").u8.begin(), obs["image"].u8.size(), obs["image"].u8.begin());
  obs["proprio"] = Array::Zeros(DType::kFloat32, {2});
  std::printf("\nCEM action selection for one state (%dx%d, CEM %dx%d), the robot's control latency:\n",
              b.image_size, b.image_size, b.cem_iterations, b.cem_samples);
  std::printf("%-8s %14s %14s %14s %22s\n", "threads", "median ms", "p90 ms", "p99 ms", "one Q evaluation ms");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int threads = 1; threads <= std::min(cores, 2); ++threads) {
    ConfigureTorchRuntime("cpu", threads);
    auto time_policy = [&](int cem_iterations, int cem_samples) {
      CheckpointPolicyOptions options;
      options.cem_iterations = cem_iterations;
      options.cem_samples = cem_samples;
      options.cem_elites = std::min(cem_samples, 6);
      auto policy = LoadPolicyFromCheckpoint(c.out + "/latest.ckpt", spec, options);
      policy->BeginEpisode(1);
      for (int i = 0; i < 20; ++i) policy->Act(obs, {});
      std::vector<double> ms;
      for (int i = 0; i < 300; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        policy->Act(obs, {});
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      return ms;
    };
    const std::vector<double> cem = time_policy(0, 0);
    // Baseline: one CEM round of one sample is a single Q evaluation.
    const std::vector<double> one = time_policy(1, 1);
    std::printf("%-8d %14.3f %14.3f %14.3f %22.3f\n", threads, cem[cem.size() / 2], cem[cem.size() * 9 / 10],
                cem[cem.size() * 99 / 100], one[one.size() / 2]);
    std::fflush(stdout);
  }
  std::system(("rm -rf '" + c.out + "'").c_str());
}

ExitCode Run(const BenchConfig& b) {
  const std::string data = b.scratch + "/bench_train_data_" + std::to_string(getpid());
  {
    WriterOptions options;
    options.config.episodes_per_shard = 20;
    options.config.sync = "none";
    options.config.compression_level = 0;
    options.env_spec = {{"action", {{"low", std::vector<float>(6, -1.0f)}, {"high", std::vector<float>(6, 1.0f)}}}};
    DatasetWriter writer(data, options);
    for (int i = 0; i < b.episodes; ++i) writer.Add(SyntheticEpisode(b.seed + static_cast<uint64_t>(i), b.image_size));
    writer.Close();
  }
  std::fprintf(stderr, "bench_train: %dx%d images, %d transitions, CEM %dx%d, %u cores\n", b.image_size,
               b.image_size, b.episodes * 20, b.cem_iterations, b.cem_samples, std::thread::hardware_concurrency());
  if (b.only_tensorboard) {
    MeasureTensorBoard(b, data);
    std::system(("rm -rf '" + data + "'").c_str());
    return ExitCode::kOk;
  }
  std::printf("%-6s %-8s %-8s %12s %16s %14s\n", "batch", "workers", "threads", "steps/s", "update share %",
              "vs 0 workers");
  int run = 0;
  for (int batch : b.batches) {
    for (int threads : b.trainer_threads) {
      double baseline = 0;
      for (int workers : b.workers) {
        const Figures f = Measure(b, data, batch, workers, threads, run++);
        if (workers == 0) baseline = f.steps_per_s;
        char ratio[32] = "-";
        if (baseline > 0) std::snprintf(ratio, sizeof(ratio), "x%.2f", f.steps_per_s / baseline);
        // The trainer's thread count as rl-train q resolves --threads 0.
        const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        const int resolved = threads > 0 ? threads : std::max(1, cores - workers * b.worker_threads);
        std::printf("%-6d %-8d %-8d %12.2f %16.1f %14s\n", batch, workers, resolved, f.steps_per_s,
                    100 * f.update_fraction, ratio);
        std::fflush(stdout);
      }
    }
  }
  std::printf("\nAllocator, rl-train q in a fresh process, inline targets, 1 thread: glibc's defaults\n"
              "(PERPETUA_MALLOC=default) vs freed memory kept (the tools' setting)\n");
  std::printf("%-6s %18s %18s %10s\n", "batch", "defaults steps/s", "kept steps/s", "ratio");
  for (int batch : b.batches) {
    const double plain = MeasureTool(b, data, batch, run++, "PERPETUA_MALLOC=default");
    const double kept = MeasureTool(b, data, batch, run++, "");
    std::printf("%-6d %18.2f %18.2f %9.2fx\n", batch, plain, kept, kept / plain);
    std::fflush(stdout);
  }
  MeasureActLatency(b, data);
  if (b.tensorboard_steps > 0) MeasureTensorBoard(b, data);
  std::system(("rm -rf '" + data + "'").c_str());
  return ExitCode::kOk;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::BenchConfig config;
  perpetua::Tool tool("bench_train", "QT-Opt training throughput and update share of wall time");
  tool.SetMain(config, [&] { return perpetua::Run(config); });
  return tool.Main(argc, argv);
}
