// Collection throughput against the cell's own stepping rate, measured in
// the same run on the same machine:
//   raw       Env::Reset/Step with uniform random actions, nothing kept
//   collect   RunCollect (the rl-collect library): random policy, episode
//             assembly, durable HDF5 shards (fsync per episode), 1 worker
//   collect   the same with 2 workers
//   collect   a Q-function checkpoint acting by CEM (untrained weights: the
//             cost of acting does not depend on them)
// Target (issue 4): collect/random costs at most 20% on top of raw stepping.
//
// Usage: bench_collect [episodes=200] [image_size=64]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "../tests/collect/checkpoint_fixture.inc"
#include "collect/collect.h"
#include "common/fs.h"
#include "common/rng.h"
#include "data/dataset_reader.h"
#include "env/make_env.h"
#include "policy/random_policy.h"

using namespace perpetua;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Figures {
  double steps = 0, episodes = 0, seconds = 0;
  double steps_per_s() const { return steps / seconds; }
  double episodes_per_s() const { return episodes / seconds; }
};

Figures RawStepping(const EnvConfig& config, int episodes) {
  auto env = MakeEnv(config);
  auto policy = MakeRandomPolicy(env->spec(), 1);
  Figures f;
  const double start = Now();
  for (int e = 0; e < episodes; ++e) {
    policy->BeginEpisode(e);
    ResetResult reset = env->Reset(DeriveSeed(1, 0, e));
    Observation observation = reset.observation;
    for (;;) {
      StepResult step = env->Step(policy->Act(observation, reset.info));
      ++f.steps;
      observation = std::move(step.observation);
      if (step.terminated || step.truncated) break;
    }
    ++f.episodes;
  }
  f.seconds = Now() - start;
  return f;
}

Figures Collect(CollectConfig config, const std::string& dir) {
  config.out = dir;
  config.dataset.episodes_per_shard = 1000000;  // one shard: keep stdout short
  const double start = Now();
  RunCollect(config, "bench: true\n");
  Figures f;
  f.seconds = Now() - start;
  DatasetReader reader({dir});
  f.episodes = double(reader.num_episodes());
  f.steps = double(reader.num_transitions());
  return f;
}

void Print(const char* name, const Figures& f, const Figures& raw) {
  std::printf("%-28s %9.0f steps/s %8.1f episodes/s   cost vs raw %+6.1f%%\n", name, f.steps_per_s(),
              f.episodes_per_s(), 100.0 * (raw.steps_per_s() / f.steps_per_s() - 1.0));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int episodes = argc > 1 ? std::atoi(argv[1]) : 200;
  const int image_size = argc > 2 ? std::atoi(argv[2]) : 64;
  char pattern[] = "/tmp/bench-collect-XXXXXX";
  const std::string root = ::mkdtemp(pattern);
  try {
    EnvConfig env;
    env.image_size = image_size;
    std::printf("grasp cell, %dx%d images, %d episodes per row, %u cores\n", image_size, image_size,
                episodes, std::thread::hardware_concurrency());
    const Figures raw = RawStepping(env, episodes);
    Print("raw cell stepping", raw, raw);

    CollectConfig config;
    config.env = env;
    config.episodes = episodes;
    config.policy = "random";
    Print("rl-collect random, 1 worker", Collect(config, root + "/random1"), raw);
    config.workers = 2;
    Print("rl-collect random, 2 workers", Collect(config, root + "/random2"), raw);

    testing::WriteTestCheckpoint(root + "/q.ckpt", MakeEnv(env)->spec(), "bench");
    config.workers = 1;
    config.policy = root + "/q.ckpt";
    config.episodes = std::max(1, episodes / 4);
    Print("rl-collect Q-function (CEM)", Collect(config, root + "/q"), raw);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_collect: %s\n", e.what());
    return 1;
  }
  std::system(("rm -rf '" + root + "'").c_str());
  return 0;
}
