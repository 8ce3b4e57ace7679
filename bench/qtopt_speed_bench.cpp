// bench_qtopt_speed: QT-Opt's gradient step and CEM action selection in C++
// against the same network, update and CEM in Python/PyTorch
// (bench/python/qtopt_update.py), alternating the two in one run so that
// both share the machine's noise.
//
//   bench_qtopt_speed                       # 3 alternating pairs, update at 1 and 2 threads, CEM at 1
//   bench_qtopt_speed --reps 5 --steps 60
//   bench_qtopt_speed --python ''           # C++ only
//
// Update: the inline-target step of rl-train q --target-workers.count 0 on
// synthetic batches already in tensors (64x64x3 uint8 images, proprio [2],
// action [6] in [-1,1]): Bellman targets (CEM over next states on target
// network 1, clipped double Q with target network 2), then QLearner::Update
// (cross-entropy, Adam, gradient clipping 10, Polyak). Sampling and the
// conversion of a TransitionBatch are not timed (bench_train times those).
// CEM: one state's action selection as the policy does it (Observation in,
// action out), median and p90 over --cem-reps selections at 1 thread.
//
// The Python side needs Debian's python3-torch, LibTorch 1.13.1 like the C++:
//   apt-get install -y --no-install-recommends python3-torch
// Without it the Python rows are skipped with a line saying so.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "common/cli.h"
#include "common/error.h"
#include "nn/tensor_batch.h"
#include "nn/torch_runtime.h"
#include "qtopt/bellman.h"
#include "qtopt/q_learner.h"

#ifndef PERPETUA_SOURCE_DIR
#define PERPETUA_SOURCE_DIR "."
#endif

namespace perpetua {
namespace {

struct BenchConfig {
  int reps = 3;            // alternating C++/Python pairs
  int steps = 30;          // timed update steps per measurement
  int warmup = 5;          // untimed steps first
  int cem_reps = 300;      // timed CEM selections per measurement
  std::vector<int> threads = {1, 2};
  int batch = 64;
  int image_size = 64;
  int cem_iterations = 2;
  int cem_samples = 64;
  uint64_t seed = 1;
  std::string python = "/usr/bin/python3";
  std::string script = PERPETUA_SOURCE_DIR "/bench/python/qtopt_update.py";
  bool breakdown = false;
  std::string profile;
  std::string python_malloc = "kept";
  void Visit(ConfigVisitor& v) {
    v.Field("reps", reps, "alternating C++/Python repetitions");
    v.Field("steps", steps, "timed update steps per measurement");
    v.Field("warmup", warmup, "untimed update steps first");
    v.Field("cem_reps", cem_reps, "timed CEM action selections per measurement");
    v.Field("threads", threads, "intra-op thread counts for the update");
    v.Field("batch", batch, "batch size");
    v.Field("image_size", image_size, "square image side");
    v.Field("cem_iterations", cem_iterations, "CEM rounds");
    v.Field("cem_samples", cem_samples, "CEM samples per round");
    v.Field("seed", seed, "seed");
    v.Field("python", python, "Python interpreter with torch ('' = C++ only)");
    v.Field("script", script, "the PyTorch baseline");
    v.Field("python_malloc", python_malloc,
            "glibc allocator of the Python side: kept (the tools' RetainFreedMemory settings) or default");
    v.Field("breakdown", breakdown, "C++ only: time targets and the gradient step separately");
    v.Field("profile", profile,
            "C++ only: write LibTorch's operator traces (chrome://tracing JSON) into this directory and exit: "
            "update.json (--steps update steps at the first --threads), cem.json (--cem-reps CEM selections)");
  }
};

QInputSpec BenchSpec(int size) {
  EnvSpec spec;
  spec.name = "bench";
  spec.observations = {{"image", DType::kUint8, {size, size, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low.assign(6, -1.0f);
  spec.action.high.assign(6, 1.0f);
  return QInputSpec::FromEnvSpec(spec, "bench");
}

std::vector<TensorBatch> SyntheticBatches(const BenchConfig& b, int count) {
  at::Generator g = at::detail::createCPUGenerator(b.seed);
  std::vector<TensorBatch> out;
  const int64_t n = b.batch, s = b.image_size;
  for (int i = 0; i < count; ++i) {
    TensorBatch t;
    t.image = at::randint(0, 256, {n, s, s, 3}, g, torch::kUInt8);
    t.next_image = at::randint(0, 256, {n, s, s, 3}, g, torch::kUInt8);
    t.proprio = at::rand({n, 2}, g);
    t.next_proprio = at::rand({n, 2}, g);
    t.action = at::rand({n, 6}, g) * 2 - 1;
    t.reward = (at::rand({n}, g) < 0.1).to(torch::kFloat32);
    t.terminated = (at::rand({n}, g) < 0.05).to(torch::kFloat32);
    out.push_back(t);
  }
  return out;
}

struct UpdateFigures {
  double steps_per_s = 0, target_share = 0;
};

UpdateFigures CppUpdate(const BenchConfig& b, int threads, int64_t* params, const std::string& trace = "") {
  torch::set_num_threads(threads);
  QNetworkConfig network;
  OptimizerConfig optim;
  BellmanConfig bellman;
  CemConfig cem;
  cem.iterations = b.cem_iterations;
  cem.samples = b.cem_samples;
  QLearner learner(network, BenchSpec(b.image_size), optim, bellman, torch::kCPU, b.seed);
  *params = CountParameters(learner.online());
  const std::vector<TensorBatch> batches = SyntheticBatches(b, 4);
  at::Generator g = at::detail::createCPUGenerator(b.seed);
  double target_seconds = 0;
  auto step = [&](int i) {
    const TensorBatch& t = batches[static_cast<size_t>(i) % batches.size()];
    const auto t0 = std::chrono::steady_clock::now();
    TargetStats stats;
    const torch::Tensor target = ComputeTargets(t, learner.target1(), learner.target2(), cem, bellman, g, &stats);
    target_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    learner.Update(t.image, t.proprio, t.action, target, g);
  };
  for (int i = 0; i < b.warmup; ++i) step(i);
  target_seconds = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (!trace.empty()) profile = std::make_unique<torch::autograd::profiler::RecordProfile>(trace);
    for (int i = 0; i < b.steps; ++i) step(i);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {b.steps / wall, target_seconds / wall};
}

struct Latency {
  double median_ms = 0, p90_ms = 0;
};

Latency CppCem(const BenchConfig& b, const std::string& trace = "") {
  torch::set_num_threads(1);
  const QInputSpec spec = BenchSpec(b.image_size);
  torch::manual_seed(b.seed);
  QNetwork network(QNetworkConfig{}, spec);
  network->eval();
  CemConfig cem;
  cem.iterations = b.cem_iterations;
  cem.samples = b.cem_samples;
  at::Generator g = at::detail::createCPUGenerator(b.seed);
  Observation obs;
  obs["image"] = Array::Zeros(DType::kUint8, {b.image_size, b.image_size, 3});
  const torch::Tensor pixels = at::randint(0, 256, {b.image_size * b.image_size * 3}, g, torch::kUInt8);
  std::copy_n(pixels.data_ptr<uint8_t>(), pixels.numel(), obs["image"].u8.begin());
  obs["proprio"] = Array::Zeros(DType::kFloat32, {2});
  obs["proprio"].f32 = {0.25f, 0.75f};
  // What QPolicy::Act does per control step.
  auto act = [&] {
    torch::Tensor image, proprio;
    ObservationToTensors(obs, spec, torch::kCPU, &image, &proprio);
    const torch::Tensor best = MaximizeQ(*network, image, proprio, cem, g).to(torch::kCPU).contiguous();
    return std::vector<float>(best.data_ptr<float>(), best.data_ptr<float>() + best.numel());
  };
  for (int i = 0; i < 20; ++i) act();
  std::vector<double> ms;
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
  if (!trace.empty()) profile = std::make_unique<torch::autograd::profiler::RecordProfile>(trace);
  for (int i = 0; i < b.cem_reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    act();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  profile.reset();
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10]};
}

// One run of the Python baseline; null when it failed.
nlohmann::json Python(const BenchConfig& b, const std::string& args) {
  // The C++ side keeps freed memory as the tools do (RetainFreedMemory);
  // glibc reads the same settings from the environment.
  const std::string malloc_env = b.python_malloc == "kept"
                                     ? "MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=536870912 "
                                       "MALLOC_TOP_PAD_=16777216 "
                                     : "";
  const std::string command = malloc_env + "'" + b.python + "' '" + b.script + "' " + args +
                              " --batch " + std::to_string(b.batch) + " --size " + std::to_string(b.image_size) +
                              " --cem-iterations " + std::to_string(b.cem_iterations) + " --cem-samples " +
                              std::to_string(b.cem_samples) + " --seed " + std::to_string(b.seed);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return nullptr;
  std::string out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  if (pclose(pipe) != 0) {
    std::fprintf(stderr, "bench_qtopt_speed: failed: %s\n", command.c_str());
    return nullptr;
  }
  try {
    return nlohmann::json::parse(out.substr(out.rfind('{')));
  } catch (const std::exception&) {
    return nullptr;
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

ExitCode Run(const BenchConfig& b) {
  if (b.reps < 1 || b.steps < 1 || b.warmup < 0 || b.cem_reps < 10) Fail(ExitCode::kUsage, "bench_qtopt_speed: bad counts");
  if (b.python_malloc != "kept" && b.python_malloc != "default") Fail(ExitCode::kUsage, "--python-malloc: kept or default");
  ConfigureTorchRuntime("cpu", 1);  // as the tools: explicit threads, freed memory kept
  bool python = !b.python.empty();
  if (python && std::system(("'" + b.python + "' -c 'import torch' >/dev/null 2>&1").c_str()) != 0) {
    std::printf("Python side skipped: '%s' cannot import torch. Install Debian's (LibTorch 1.13.1, as the C++):\n"
                "  apt-get install -y --no-install-recommends python3-torch\n", b.python.c_str());
    python = false;
  }
  int64_t params = 0;
  if (!b.profile.empty()) {
    std::filesystem::create_directories(b.profile);
    const std::string update = b.profile + "/update.json", cem = b.profile + "/cem.json";
    const UpdateFigures f = CppUpdate(b, b.threads.at(0), &params, update);
    const Latency l = CppCem(b, cem);
    std::printf("under the profiler: %d update steps at %d threads (%.2f steps/s): %s\n"
                "%d CEM selections (median %.3f ms): %s\n",
                b.steps, b.threads.at(0), f.steps_per_s, update.c_str(), b.cem_reps, l.median_ms, cem.c_str());
    return ExitCode::kOk;
  }
  {
    QNetwork network(QNetworkConfig{}, BenchSpec(b.image_size));
    params = CountParameters(*network);
  }
  std::printf("QT-Opt default network: %lld parameters; batch %d, %dx%d images, CEM %dx%d, %d timed steps;\n"
              "Python allocator: %s\n",
              static_cast<long long>(params), b.batch, b.image_size, b.image_size, b.cem_iterations,
              b.cem_samples, b.steps, b.python_malloc == "kept" ? "freed memory kept, as the C++ tools" : "glibc defaults");
  std::fflush(stdout);
  const std::string common = "--expect-params " + std::to_string(params);
  std::vector<std::vector<double>> cpp_update(b.threads.size()), py_update(b.threads.size());
  std::vector<double> cpp_cem, py_cem, cpp_p90, py_p90;
  std::printf("%-4s %-22s %10s %10s %8s\n", "rep", "measurement", "C++", "Python", "ratio");
  for (int rep = 0; rep < b.reps; ++rep) {
    for (size_t i = 0; i < b.threads.size(); ++i) {
      const int threads = b.threads[i];
      // Alternate which side goes first so that neither always follows the other.
      double cpp = 0, py = 0, share = 0;
      auto run_cpp = [&] {
        const UpdateFigures f = CppUpdate(b, threads, &params);
        cpp = f.steps_per_s;
        share = f.target_share;
      };
      auto run_py = [&] {
        if (!python) return;
        const nlohmann::json j = Python(b, "--mode update --threads " + std::to_string(threads) + " --steps " +
                                               std::to_string(b.steps) + " --warmup " + std::to_string(b.warmup) +
                                               " " + common);
        if (j.is_object()) py = j.at("steps_per_s").get<double>();
      };
      if (rep % 2 == 0) { run_cpp(); run_py(); } else { run_py(); run_cpp(); }
      cpp_update[i].push_back(cpp);
      if (py > 0) py_update[i].push_back(py);
      char label[64];
      std::snprintf(label, sizeof(label), "update steps/s %dt", threads);
      std::printf("%-4d %-22s %10.2f %10.2f %7.2fx", rep + 1, label, cpp, py, py > 0 ? cpp / py : 0.0);
      if (b.breakdown) std::printf("   (targets %.0f%% of the C++ step)", 100 * share);
      std::printf("\n");
      std::fflush(stdout);
    }
    Latency cpp, py;
    auto run_cpp = [&] { cpp = CppCem(b); };
    auto run_py = [&] {
      if (!python) return;
      const nlohmann::json j = Python(b, "--mode cem --threads 1 --reps " + std::to_string(b.cem_reps) + " " + common);
      if (j.is_object()) py = {j.at("median_ms").get<double>(), j.at("p90_ms").get<double>()};
    };
    if (rep % 2 == 0) { run_cpp(); run_py(); } else { run_py(); run_cpp(); }
    cpp_cem.push_back(cpp.median_ms);
    cpp_p90.push_back(cpp.p90_ms);
    if (py.median_ms > 0) {
      py_cem.push_back(py.median_ms);
      py_p90.push_back(py.p90_ms);
    }
    std::printf("%-4d %-22s %10.3f %10.3f %7.2fx\n", rep + 1, "CEM median ms 1t", cpp.median_ms, py.median_ms,
                cpp.median_ms > 0 && py.median_ms > 0 ? py.median_ms / cpp.median_ms : 0.0);
    std::printf("%-4d %-22s %10.3f %10.3f %7.2fx\n", rep + 1, "CEM p90 ms 1t", cpp.p90_ms, py.p90_ms,
                cpp.p90_ms > 0 && py.p90_ms > 0 ? py.p90_ms / cpp.p90_ms : 0.0);
    std::fflush(stdout);
  }
  std::printf("\nMedians over %d reps (ratio: how many times faster C++ is)\n", b.reps);
  for (size_t i = 0; i < b.threads.size(); ++i) {
    const double c = Median(cpp_update[i]), p = Median(py_update[i]);
    std::printf("update %dt   C++ %8.2f steps/s   Python %8.2f steps/s   %.2fx\n", b.threads[i], c, p,
                p > 0 ? c / p : 0.0);
  }
  const double c = Median(cpp_cem), p = Median(py_cem);
  std::printf("CEM 1t      C++ %8.3f ms (p90 %.3f)   Python %8.3f ms (p90 %.3f)   %.2fx\n", c, Median(cpp_p90), p,
              Median(py_p90), c > 0 && p > 0 ? p / c : 0.0);
  return ExitCode::kOk;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::BenchConfig config;
  perpetua::Tool tool("bench_qtopt_speed", "QT-Opt update and CEM latency, C++ against PyTorch in one run");
  tool.SetMain(config, [&] { return perpetua::Run(config); });
  return tool.Main(argc, argv);
}
