// Collection throughput against the cell's own stepping rate, measured in
// the same run on the same machine:
//   raw       Env::Reset/Step with uniform random actions, nothing kept
//   loop      RunEpisodes (episode assembly, ordering), episodes discarded
//   collect   RunCollect (the rl-collect library): random policy, episode
//             assembly, durable HDF5 shards (fsync per episode), 1 worker
//   collect   the same with 2 workers
//   collect   a Q-function checkpoint acting by CEM (untrained weights: the
//             cost of acting does not depend on them)
// Target (issue 4): collect/random costs at most 20% on top of raw stepping.
//
// Figures are best-of-N runs; collect rates are steady state (first episode
// start to last episode end), start-up and the final merge excluded. CPU
// figures count every thread of the whole call (start-up and merge included):
// on a shared machine they are steadier than wall-clock rates.
//
// Usage: bench_collect [episodes=200] [image_size=64] [rounds=3]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "../tests/collect/checkpoint_fixture.inc"
#include "collect/collect.h"
#include "common/fs.h"
#include "common/rng.h"
#include "data/dataset_reader.h"
#include "data/dataset_writer.h"
#include "env_factory/make_env.h"
#include "policy/random_policy.h"
#include "rollout/rollout.h"

using namespace perpetua;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds (user + system, all threads) used by this process so far.
double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Figures {
  double steps = 0, episodes = 0, seconds = 0;
  double cpu_seconds = 0;  // whole call, all threads (robust to other processes' load)
  double steps_per_s() const { return steps / seconds; }
  double episodes_per_s() const { return episodes / seconds; }
  double cpu_ms_per_episode() const { return 1000.0 * cpu_seconds / episodes; }
};

Figures RawStepping(const EnvConfig& config, int episodes) {
  const double cpu_start = CpuSeconds();
  auto env = MakeEnv(config);
  auto policy = MakeRandomPolicy(env->spec(), 1);
  Figures f;
  const double start = Now();
  for (int e = 0; e < episodes; ++e) {
    const uint64_t seed = EpisodeSeed(1, e);  // the episodes rl-collect --seed 1 runs
    policy->BeginEpisode(seed);
    ResetResult reset = env->Reset(seed);
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
  f.cpu_seconds = CpuSeconds() - cpu_start;
  return f;
}

// The episode loop and assembly alone (RunEpisodes, sink discards; with
// `keep`, the episodes are kept for WriterOnly).
Figures RolloutOnly(const EnvConfig& config, int episodes, int workers,
                    std::vector<Episode>* keep = nullptr) {
  RunnerOptions options;
  options.workers = workers;
  options.seed = 1;
  options.episodes = episodes;
  Figures f;
  const double cpu_start = CpuSeconds();
  const double start = Now();
  RunEpisodes(
      options,
      [&](int) {
        Worker worker;
        worker.env = MakeEnv(config);
        worker.policy = MakeRandomPolicy(worker.env->spec(), 1);
        return worker;
      },
      nullptr,
      [&](RolloutResult&& r) {
        f.steps += double(r.episode.num_steps());
        ++f.episodes;
        if (keep) keep->push_back(std::move(r.episode));
      });
  f.seconds = Now() - start;
  f.cpu_seconds = CpuSeconds() - cpu_start;
  return f;
}

// DatasetWriter::Add of episodes already in memory, then Close: the writing
// cost alone, in milliseconds per episode.
double WriterMsPerEpisode(const std::vector<Episode>& episodes, const std::string& dir, bool fsync) {
  WriterOptions options;
  options.config.sync = fsync ? "episode" : "none";
  DatasetWriter writer(dir, options);
  const double start = Now();
  for (const Episode& e : episodes) writer.Add(e);
  writer.Close();
  return 1000.0 * (Now() - start) / double(episodes.size());
}

Figures Collect(CollectConfig config, const std::string& dir) {
  config.out = dir;
  config.dataset.episodes_per_shard = 1000000;  // one shard: keep stdout short
  const double cpu_start = CpuSeconds();
  const double start = Now();
  RunCollect(config, "bench: true\n");  // prints the shard path on stdout
  const double wall = Now() - start;
  const double cpu = CpuSeconds() - cpu_start;
  // Steady state: from the first episode's start to the last one's end (the
  // writer keeps at most a few episodes behind the workers: backpressure),
  // so process start-up, cell creation and the final shard merge are left out.
  DatasetReader reader({dir});
  Figures f;
  f.episodes = double(reader.num_episodes());
  f.steps = double(reader.num_transitions());
  double first = 1e300, last = 0;
  for (size_t i = 0; i < reader.num_episodes(); ++i) {
    const EpisodeMetadata m = reader.ReadEpisode(i).metadata;
    first = std::min(first, m.start_time_unix);
    last = std::max(last, m.end_time_unix);
  }
  f.seconds = last - first;
  f.cpu_seconds = cpu;
  (void)wall;  // start-up (process, cells, torch) is not what this compares
  return f;
}

void Print(const char* name, const Figures& f, const Figures& raw) {
  std::printf("%-28s %6.0f steps/s %6.1f episodes/s  wall cost vs raw %+6.1f%%   CPU %5.2f ms/episode (%+6.1f%%)\n",
              name, f.steps_per_s(), f.episodes_per_s(), 100.0 * (raw.steps_per_s() / f.steps_per_s() - 1.0),
              f.cpu_ms_per_episode(), 100.0 * (f.cpu_ms_per_episode() / raw.cpu_ms_per_episode() - 1.0));
  std::fflush(stdout);
}


}  // namespace

int main(int argc, char** argv) {
  const int episodes = argc > 1 ? std::atoi(argv[1]) : 200;
  const int image_size = argc > 2 ? std::atoi(argv[2]) : 64;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  char pattern[] = "/tmp/bench-collect-XXXXXX";
  const std::string root = ::mkdtemp(pattern);
  try {
    EnvConfig env;
    env.image_size = image_size;
    std::printf("grasp cell, %dx%d images, %d episodes per run, best of %d runs, %u cores\n", image_size,
                image_size, episodes, rounds, std::thread::hardware_concurrency());
    CollectConfig config;
    config.env = env;
    config.episodes = episodes;
    config.policy = "random";
    std::vector<Episode> kept;
    RolloutOnly(env, episodes, 1, &kept);
    // Rounds interleave the rows so that load from other processes spreads
    // over all of them; each row keeps its best round.
    enum Row { kRaw, kLoop, kCollect1, kCollectNoFsync, kCollect2, kRows };
    Figures best[kRows];
    double writer_fsync = 1e300, writer_nofsync = 1e300;
    for (int r = 0; r < rounds; ++r) {
      auto keep_best = [&](Row row, const Figures& f) {
        if (r == 0 || f.steps_per_s() > best[row].steps_per_s()) best[row] = f;
      };
      const std::string tag = std::to_string(r);
      keep_best(kRaw, RawStepping(env, episodes));
      keep_best(kLoop, RolloutOnly(env, episodes, 1));
      writer_fsync = std::min(writer_fsync, WriterMsPerEpisode(kept, root + "/w-" + tag, true));
      writer_nofsync = std::min(writer_nofsync, WriterMsPerEpisode(kept, root + "/wn-" + tag, false));
      config.workers = 1;
      keep_best(kCollect1, Collect(config, root + "/c1-" + tag));
      config.dataset.sync = "none";
      keep_best(kCollectNoFsync, Collect(config, root + "/cn-" + tag));
      config.dataset.sync = "episode";
      config.workers = 2;
      keep_best(kCollect2, Collect(config, root + "/c2-" + tag));
    }
    const Figures& raw = best[kRaw];
    Print("raw cell stepping", raw, raw);
    Print("episode loop only, 1 worker", best[kLoop], raw);
    std::printf("%-28s %6.2f ms/episode with fsync, %.2f without (stepping: %.2f ms/episode)\n",
                "DatasetWriter alone", writer_fsync, writer_nofsync, 1000.0 / raw.episodes_per_s());
    Print("rl-collect random, 1 worker", best[kCollect1], raw);
    Print("  the same without fsync", best[kCollectNoFsync], raw);
    Print("rl-collect random, 2 workers", best[kCollect2], raw);

    testing::WriteTestCheckpoint(root + "/q.ckpt", MakeEnv(env)->spec(), "bench");
    config.workers = 1;
    config.policy = root + "/q.ckpt";
    config.episodes = std::max(1, episodes / 4);
    const Figures q = Collect(config, root + "/q");
    std::printf("%-28s %9.0f steps/s %8.1f episodes/s   %.2f ms per step (CEM + cell + writing)\n",
                "rl-collect Q-function (CEM)", q.steps_per_s(), q.episodes_per_s(), 1000.0 / q.steps_per_s());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_collect: %s\n", e.what());
    return 1;
  }
  std::system(("rm -rf '" + root + "'").c_str());
  return 0;
}
