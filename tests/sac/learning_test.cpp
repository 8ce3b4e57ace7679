// SAC learns: pendulum from state (Gymnasium's Pendulum-v1 dynamics) with
// RLtools' settings, 10k environment steps in-process, then 10 evaluation
// episodes with the mean action must average at least -200 (the usual
// "solved" line; a random policy gets about -1,200). About 30 s of CPU time on
// the 2-core machine while it was shared (RLtools needed about 50 s there).
// PERPETUA_LEARNING_SEED reruns it with another seed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstdio>

#include "nn/torch_runtime.h"
#include "sac/sac_env_loop.h"
#include "sim/pendulum_cell.h"

namespace perpetua {
namespace {

TEST_CASE("SAC learns pendulum from state in 10k steps") {
  ConfigureTorchRuntime("cpu", 1);
  const char* seed_text = std::getenv("PERPETUA_LEARNING_SEED");
  const uint64_t seed = seed_text ? std::strtoull(seed_text, nullptr, 10) : 1;
  EnvConfig env_config;
  env_config.name = "pendulum";
  sim::PendulumCell env(env_config);
  SacAgent learner(RlToolsPendulumConfig(), InputSpec::FromEnvSpec(env.spec(), "pendulum"), torch::kCPU, seed);
  SacEnvLoopOptions options;
  options.env_steps = 10000;
  options.seed = seed;
  const SacEnvLoopResult run = RunSacOnEnv(env, learner, options);
  auto policy = learner.MakePolicy(SacActionMode::kMean, seed, "learned");
  const double mean_return = MeanReturn(env, *policy, 10, /*seed=*/1000 + seed);
  std::fprintf(stderr, "pendulum SAC seed %llu: %.1f s, %lld updates, mean return %.1f, alpha %.3f\n",
               static_cast<unsigned long long>(seed), run.wall, static_cast<long long>(run.updates), mean_return,
               learner.alpha());
  CHECK(run.updates == 10000 - 99);
  CHECK(mean_return >= -200.0);
}

}  // namespace
}  // namespace perpetua
