// bench_sim_stress: physics blow-ups of the grasp cell under many policies.
//
//   nice -n 10 bench_sim_stress --checkpoint q.ckpt            # the 100k run
//   bench_sim_stress --random 2000 --wander 2000 --scripted 2000 --trained 0
//
// Runs episodes through the real episode loop (rollout/rollout.h, as
// rl-collect does) under each policy, half on training and half on held-out
// objects, and counts the episodes a physics blow-up ended (sim/sim_cell.h:
// flagged "unstable", expected 0). Policies:
//   random    uniform random actions (terminate > 0 half the time: short episodes)
//   wander    uniform random actions that never terminate: full-length
//             episodes, the most contact time per episode
//   scripted  the grasp script with noise, epsilon-greedy toward random
//   trained   a Q checkpoint (rl-train q), epsilon-greedy toward random as
//             the learning loop collects with it; skipped without --checkpoint
// Only the trained policy reads images, so only its episodes render; the
// others run the physics alone (blank images), which is what is stressed.
// Prints per policy and object set: episodes, steps, blow-ups (in resets and
// in steps), success and episodes/s, and the seeds of blown-up episodes.
// Exit 0 whatever the count: it is a measurement, not a test.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/error.h"
#include "common/rng.h"
#include "env/make_env.h"
#include "nn/torch_runtime.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "rollout/exploration.h"
#include "rollout/policy_factory.h"
#include "rollout/rollout.h"
#include "sim/sim_cell.h"

namespace perpetua {
namespace {

struct StressConfig {
  int64_t random = 40000;
  int64_t wander = 15000;
  int64_t scripted = 40000;
  int64_t trained = 5000;
  std::string checkpoint;
  double scripted_noise = 0.3;
  double scripted_epsilon = 0.3;
  double trained_epsilon = 0.2;
  int max_objects = 3;
  int workers = 1;
  uint64_t seed = 1;

  void Visit(ConfigVisitor& v) {
    v.Field("random", random, "episodes of the uniform random policy");
    v.Field("wander", wander, "episodes of random actions that never terminate (full length)");
    v.Field("scripted", scripted, "episodes of the noisy, epsilon-greedy grasp script");
    v.Field("trained", trained, "episodes of the epsilon-greedy Q checkpoint (needs --checkpoint)");
    v.Field("checkpoint", checkpoint, "Q checkpoint for the trained policy (rl-train q)");
    v.Field("scripted_noise", scripted_noise, "noise of the grasp script (action units)");
    v.Field("scripted_epsilon", scripted_epsilon, "scripted: share of steps acted at random");
    v.Field("trained_epsilon", trained_epsilon, "trained: share of steps acted at random");
    v.Field("max_objects", max_objects, "objects dropped per episode, drawn in 1..N");
    v.Field("workers", workers, "episode worker threads");
    v.Field("seed", seed, "run seed; each row derives its own");
  }
};

// Uniform random actions with the terminate component always off.
class WanderPolicy : public Policy {
 public:
  explicit WanderPolicy(std::unique_ptr<Policy> random) : random_(std::move(random)) {}
  void BeginEpisode(uint64_t seed) override { random_->BeginEpisode(seed); }
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override {
    std::vector<float> action = random_->Act(observation, info);
    action.back() = -1.0f;
    return action;
  }
  std::string id() const override { return "wander"; }

 private:
  std::unique_ptr<Policy> random_;
};

struct RowCounts {
  int64_t episodes = 0, steps = 0, successes = 0, unstable = 0, unstable_in_reset = 0;
  std::vector<std::string> examples;  // "seed S step K dof D" of the first blown-up episodes
};

std::unique_ptr<Policy> MakeStressPolicy(const StressConfig& c, const std::string& which,
                                         const EnvSpec& spec, uint64_t seed) {
  if (which == "random") return MakeRandomPolicy(spec, seed);
  if (which == "wander") return std::make_unique<WanderPolicy>(MakeRandomPolicy(spec, seed));
  if (which == "scripted") {
    return std::make_unique<EpsilonGreedyPolicy>(MakeScriptedPolicy(spec, c.scripted_noise, seed),
                                                 MakeRandomPolicy(spec, seed), c.scripted_epsilon);
  }
  return std::make_unique<EpsilonGreedyPolicy>(MakePolicy(c.checkpoint, spec, seed, PolicyOptions{}),
                                               MakeRandomPolicy(spec, seed), c.trained_epsilon);
}

RowCounts RunRow(const StressConfig& c, const std::string& which, const std::string& objects,
                 int64_t episodes, uint64_t row_seed) {
  const bool images = which == "trained";
  EnvConfig env_config;
  env_config.objects = objects;
  env_config.max_objects = c.max_objects;
  // The checkpoint needs the images it was trained on; the others see none.
  if (!images) env_config.image_size = 16;
  RunnerOptions runner;
  runner.workers = c.workers;
  runner.seed = row_seed;
  runner.episodes = episodes;
  RowCounts counts;
  const auto make_worker = [&](int) {
    Worker worker;
    worker.env = MakeEnv(env_config);
    if (!images) dynamic_cast<sim::SimCell&>(*worker.env).set_render_images(false);
    worker.policy = MakeStressPolicy(c, which, worker.env->spec(), row_seed);
    return worker;
  };
  const auto sink = [&](RolloutResult&& result) {
    ++counts.episodes;
    counts.steps += result.episode.num_steps();
    counts.successes += result.episode.metadata.success;
    if (!result.final_info.contains("unstable")) return;
    const nlohmann::json& unstable = result.final_info.at("unstable");
    ++counts.unstable;
    counts.unstable_in_reset += unstable.at("step").get<int>() < 0;
    if (counts.examples.size() < 5) {
      counts.examples.push_back("seed " + std::to_string(result.episode.metadata.seed) + " " +
                                unstable.dump());
    }
  };
  RunEpisodes(runner, make_worker, nullptr, sink);
  return counts;
}

ExitCode Run(const StressConfig& c) {
  if (c.trained > 0 && c.checkpoint.empty()) {
    Fail(ExitCode::kUsage, "--trained needs --checkpoint (a Q checkpoint from rl-train q), or --trained 0");
  }
  if (c.trained > 0) ConfigureTorchRuntime("cpu", 1);
  const std::vector<std::pair<std::string, int64_t>> rows = {
      {"random", c.random}, {"wander", c.wander}, {"scripted", c.scripted}, {"trained", c.trained}};
  std::printf("grasp cell, 1..%d objects, %d worker(s), seed %llu%s\n", c.max_objects, c.workers,
              static_cast<unsigned long long>(c.seed),
              c.trained > 0 ? (", checkpoint " + c.checkpoint).c_str() : "");
  std::printf("%-9s %-8s %9s %10s %9s %8s %8s %8s %7s\n", "policy", "objects", "episodes", "steps",
              "blow-ups", "(reset)", "success", "eps/s", "wall s");
  RowCounts total;
  double total_seconds = 0;
  uint64_t row_index = 0;
  for (const auto& [which, episodes] : rows) {
    for (const char* objects : {"train", "heldout"}) {
      const int64_t share = std::string(objects) == "train" ? (episodes + 1) / 2 : episodes / 2;
      const uint64_t row_seed = DeriveSeed(c.seed, /*stream=*/3, row_index++);
      if (share <= 0) continue;
      const auto start = std::chrono::steady_clock::now();
      const RowCounts r = RunRow(c, which, objects, share, row_seed);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%-9s %-8s %9lld %10lld %9lld %8lld %7.1f%% %8.1f %7.0f\n", which.c_str(), objects,
                  static_cast<long long>(r.episodes), static_cast<long long>(r.steps),
                  static_cast<long long>(r.unstable), static_cast<long long>(r.unstable_in_reset),
                  100.0 * double(r.successes) / double(r.episodes), double(r.episodes) / seconds, seconds);
      for (const std::string& example : r.examples) {
        std::printf("    blow-up: %s (run seed %llu)\n", example.c_str(),
                    static_cast<unsigned long long>(row_seed));
      }
      std::fflush(stdout);
      total.episodes += r.episodes;
      total.steps += r.steps;
      total.unstable += r.unstable;
      total.unstable_in_reset += r.unstable_in_reset;
      total_seconds += seconds;
    }
  }
  std::printf("%-9s %-8s %9lld %10lld %9lld %8lld %8s %8.1f %7.0f\n", "total", "both",
              static_cast<long long>(total.episodes), static_cast<long long>(total.steps),
              static_cast<long long>(total.unstable), static_cast<long long>(total.unstable_in_reset), "",
              double(total.episodes) / total_seconds, total_seconds);
  return ExitCode::kOk;
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  perpetua::StressConfig config;
  perpetua::Tool tool("bench_sim_stress", "Counts physics blow-ups of the grasp cell under many policies.");
  tool.SetMain(config, [&] { return perpetua::Run(config); });
  return tool.Main(argc, argv);
}
