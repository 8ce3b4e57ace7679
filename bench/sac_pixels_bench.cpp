// bench_sac_pixels: SAC update throughput from pixels, the push cell's inputs
// (one 64x64 image, 2 actions), batch 128, default networks (SacConfig:
// shared conv encoder trained by the critics, DrQ shift 4), at 1 and 2
// intra-op threads. Prints updates/s, the share of wall time inside
// SacAgent::Update (the rest: sampling the in-memory replay) and the
// update's split into forward, backward and optimiser.
//
//   bench_sac_pixels
//   bench_sac_pixels --threads 1,2 --updates 30 --batch 128
//
// Data: random images in an in-memory SacReplay (throughput does not depend
// on pixel values). The first `warmup` updates of each setting are not timed.
#include <chrono>
#include <cstdio>
#include <vector>

#include "common/cli.h"
#include "common/rng.h"
#include "nn/torch_runtime.h"
#include "sac/sac_env_loop.h"

namespace perpetua {
namespace {

struct BenchConfig {
  std::vector<int> threads = {1, 2};
  int updates = 30;
  int warmup = 3;
  int batch = 128;
  int image_size = 64;
  int replay = 2000;
  void Visit(ConfigVisitor& v) {
    v.Field("threads", threads, "intra-op thread counts to measure");
    v.Field("updates", updates, "timed updates per setting");
    v.Field("warmup", warmup, "untimed updates first");
    v.Field("batch", batch, "transitions per update");
    v.Field("image_size", image_size, "square image side");
    v.Field("replay", replay, "transitions in the in-memory replay");
  }
};

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

ExitCode Run(const BenchConfig& b) {
  EnvSpec env;
  env.name = "push-like";
  env.observations = {{"image", DType::kUint8, {b.image_size, b.image_size, 3}}};
  env.action.low = {-1.0f, -1.0f};
  env.action.high = {1.0f, 1.0f};
  const InputSpec spec = InputSpec::FromEnvSpec(env, "bench");
  SacReplay replay(spec, b.replay);
  Rng rng(1);
  const torch::Tensor empty = torch::empty({1, 0});
  for (int i = 0; i < b.replay; ++i) {
    const torch::Tensor image = torch::randint(0, 256, {1, b.image_size, b.image_size, 3}).to(torch::kUInt8);
    replay.Add(image, empty, {static_cast<float>(rng.Uniform(-1, 1)), static_cast<float>(rng.Uniform(-1, 1))},
               rng.Normal(), false, image, empty);
  }
  SacConfig config;
  config.batch_size = b.batch;
  std::fprintf(stderr, "pixel SAC updates, %dx%d image, batch %d, encoder channels", b.image_size, b.image_size,
               b.batch);
  for (int c : config.network.encoder_channels) std::fprintf(stderr, " %d", c);
  std::fprintf(stderr, ", shift %d\n%-8s %10s %12s %8s %8s %8s\n", config.augment_shift, "threads", "updates/s",
               "update share", "fwd s", "bwd s", "optim s");
  for (int threads : b.threads) {
    ConfigureTorchRuntime("cpu", threads);
    SacAgent learner(config, spec, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(2);
    double in_update = 0.0;
    Clock::time_point start;
    SacUpdateTimes before;
    for (int i = 0; i < b.warmup + b.updates; ++i) {
      if (i == b.warmup) {
        start = Clock::now();
        in_update = 0.0;
        before = learner.times();
      }
      const TensorBatch batch = replay.Sample(b.batch, generator, torch::kCPU);
      const auto t = Clock::now();
      learner.Update(batch, generator);
      in_update += Since(t);
    }
    const double wall = Since(start);
    const SacUpdateTimes& after = learner.times();
    std::fprintf(stderr, "%-8d %10.2f %11.1f%% %8.2f %8.2f %8.2f\n", threads, b.updates / wall,
                 100.0 * in_update / wall, after.forward - before.forward, after.backward - before.backward,
                 after.optimizer - before.optimizer);
  }
  return ExitCode::kOk;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::BenchConfig config;
  perpetua::Tool tool("bench_sac_pixels", "SAC update throughput from 64x64 pixels at 1 and 2 threads");
  tool.SetMain(config, [&] { return perpetua::Run(config); });
  return tool.Main(argc, argv);
}
