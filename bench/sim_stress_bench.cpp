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
// Every one of --rounds rounds runs its share of every policy (a progress
// line per round), then the table: per policy and object set, episodes,
// steps, blow-ups (in resets and in steps), success and episodes/s, and where
// the first blow-ups happened (episode index and run seed reproduce them).
// Exit 0 whatever the count: it is a measurement, not a test.
//
// --spin-objects N first measures the cause (docs/sim.md#physics-blow-ups):
// each of the first N objects flies free (no gravity, no contacts) for 1 s
// spinning about 4 random axes at 25..800 rad/s, with the cell's integrator
// and with explicit Euler at 5 and 2 ms; printed: how many objects first run
// away (a huge QACC, or |w| tripled) at each spin.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <mujoco/mujoco.h>

#include "common/cli.h"
#include "common/error.h"
#include "common/rng.h"
#include "env_factory/make_env.h"
#include "learners/register_learners.h"
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
  int spin_objects = 0;
  int rounds = 10;

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
    v.Field("rounds", rounds, "rounds; each runs 1/rounds of every policy's episodes");
    v.Field("spin_objects", spin_objects, "free-flight spin test of the first N objects (0: skip)");
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

// Episodes [first, first + episodes) of one row (seeds EpisodeSeed(row_seed, index)).
RowCounts RunRow(const StressConfig& c, const std::string& which, const std::string& objects,
                 int64_t first, int64_t episodes, uint64_t row_seed) {
  const bool images = which == "trained";
  EnvConfig env_config;
  env_config.objects = objects;
  env_config.max_objects = c.max_objects;
  // The checkpoint needs the images it was trained on; the others see none.
  if (!images) env_config.image_size = 16;
  RunnerOptions runner;
  runner.workers = c.workers;
  runner.seed = row_seed;
  runner.first_index = first;
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
      counts.examples.push_back("episode " + std::to_string(result.index) + " of run seed " +
                                std::to_string(row_seed) + ": " + unstable.dump());
    }
  };
  RunEpisodes(runner, make_worker, nullptr, sink);
  return counts;
}

// The lowest of `spins` (rad/s) at which object `id`, flying free for 1 s
// about one of 4 random axes, runs away; 0 if none does.
double RunawaySpin(Env& env, int64_t id, int integrator, double timestep, const std::vector<double>& spins) {
  env.Reset(1, {{"object_ids", {id}}});
  auto& cell = dynamic_cast<sim::SimCell&>(env);
  mjModel* m = const_cast<mjModel*>(cell.model());  // bench only: the cell is rebuilt per setting
  mjData* d = const_cast<mjData*>(cell.data());
  m->opt.disableflags |= mjDSBL_CONTACT | mjDSBL_GRAVITY;
  m->opt.integrator = integrator;
  m->opt.timestep = timestep;
  const int dof = m->jnt_dofadr[mj_name2id(m, mjOBJ_JOINT, "obj0")] + 3;
  for (double spin : spins) {
    for (uint64_t trial = 0; trial < 4; ++trial) {
      mj_resetData(m, d);
      Rng rng(DeriveSeed(static_cast<uint64_t>(id), /*stream=*/4, trial));
      mjtNum axis[3] = {rng.Normal(), rng.Normal(), rng.Normal()};
      mju_normalize3(axis);
      for (int k = 0; k < 3; ++k) d->qvel[dof + k] = spin * axis[k];
      mj_forward(m, d);
      for (int i = 0; i < static_cast<int>(1.0 / timestep); ++i) mj_step(m, d);
      const bool exploded = d->warning[mjWARN_BADQACC].number > 0;
      if (exploded || mju_norm3(d->qvel + dof) > 3 * spin) return spin;
    }
  }
  return 0;
}

void MeasureSpin(const StressConfig& c) {
  const std::vector<double> spins = {25, 50, 75, 100, 150, 200, 300, 400, 600, 800};
  struct Setting {
    const char* name;
    int integrator;  // -1: the cell's own
    double timestep;
  };
  const Setting settings[] = {{"cell (implicit, 5 ms)", -1, 0.005},
                              {"euler, 5 ms", mjINT_EULER, 0.005},
                              {"euler, 2 ms", mjINT_EULER, 0.002}};
  std::printf("free flight, first %d training objects: objects that first run away at each spin (rad/s)\n%-22s",
              c.spin_objects, "integrator");
  for (double spin : spins) std::printf(" %5.0f", spin);
  std::printf("  never\n");
  for (const Setting& setting : settings) {
    EnvConfig config;
    config.max_objects = 1;
    config.image_size = 16;
    std::unique_ptr<Env> env = MakeEnv(config);
    const int integrator = setting.integrator >= 0
                               ? setting.integrator
                               : dynamic_cast<sim::SimCell&>(*env).model()->opt.integrator;
    std::vector<int> counts(spins.size() + 1, 0);
    for (int64_t id = 0; id < c.spin_objects; ++id) {
      const double spin = RunawaySpin(*env, id, integrator, setting.timestep, spins);
      size_t k = 0;
      while (k < spins.size() && spins[k] != spin) ++k;
      ++counts[k];
    }
    std::printf("%-22s", setting.name);
    for (int count : counts) std::printf(" %5d", count);
    std::printf("\n");
    std::fflush(stdout);
  }
}

ExitCode Run(const StressConfig& c) {
  if (c.spin_objects > 0) MeasureSpin(c);
  if (c.trained > 0 && c.checkpoint.empty()) {
    Fail(ExitCode::kUsage, "--trained needs --checkpoint (a Q checkpoint from rl-train q), or --trained 0");
  }
  if (c.trained > 0) ConfigureTorchRuntime("cpu", 1);
  RegisterLearnerPolicies();
  if (c.random + c.wander + c.scripted + c.trained == 0) return ExitCode::kOk;
  if (c.rounds < 1) Fail(ExitCode::kUsage, "--rounds must be at least 1");
  // Rows: each policy on each object set. Every round runs 1/rounds of every
  // row, so a run stopped early has met every policy.
  struct Row {
    std::string policy, objects;
    int64_t episodes = 0;
    uint64_t seed = 0;
    RowCounts counts;
    double seconds = 0;
  };
  std::vector<Row> rows;
  for (const auto& [policy, episodes] : std::vector<std::pair<std::string, int64_t>>{
           {"random", c.random}, {"wander", c.wander}, {"scripted", c.scripted}, {"trained", c.trained}}) {
    for (const char* objects : {"train", "heldout"}) {
      const int64_t share = std::string(objects) == "train" ? (episodes + 1) / 2 : episodes / 2;
      rows.push_back({policy, objects, share, DeriveSeed(c.seed, /*stream=*/3, rows.size()), {}, 0});
    }
  }
  std::printf("grasp cell, 1..%d objects, %d worker(s), seed %llu%s\n", c.max_objects, c.workers,
              static_cast<unsigned long long>(c.seed),
              c.trained > 0 ? (", checkpoint " + c.checkpoint).c_str() : "");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  RowCounts total;
  for (int round = 0; round < c.rounds; ++round) {
    for (Row& row : rows) {
      const int64_t first = row.episodes * round / c.rounds, end = row.episodes * (round + 1) / c.rounds;
      if (end <= first) continue;
      const double before = elapsed();
      const RowCounts r = RunRow(c, row.policy, row.objects, first, end - first, row.seed);
      row.seconds += elapsed() - before;
      std::printf("  round %d %-8s %-7s +%lld episodes, %lld blow-ups\n", round + 1, row.policy.c_str(),
                  row.objects.c_str(), static_cast<long long>(r.episodes), static_cast<long long>(r.unstable));
      std::fflush(stdout);
      for (RowCounts* sum : {&row.counts, &total}) {
        sum->episodes += r.episodes;
        sum->steps += r.steps;
        sum->successes += r.successes;
        sum->unstable += r.unstable;
        sum->unstable_in_reset += r.unstable_in_reset;
        for (const std::string& e : r.examples) {
          if (sum->examples.size() < 5) sum->examples.push_back(row.policy + " " + row.objects + ": " + e);
        }
      }
    }
    std::printf("round %d/%d: %lld episodes, %lld blow-ups, %.0f s\n", round + 1, c.rounds,
                static_cast<long long>(total.episodes), static_cast<long long>(total.unstable), elapsed());
    std::fflush(stdout);
  }
  std::printf("%-9s %-8s %9s %10s %9s %8s %8s %8s %7s\n", "policy", "objects", "episodes", "steps",
              "blow-ups", "(reset)", "success", "eps/s", "wall s");
  for (const Row& row : rows) {
    const RowCounts& r = row.counts;
    if (r.episodes == 0) continue;
    std::printf("%-9s %-8s %9lld %10lld %9lld %8lld %7.1f%% %8.1f %7.0f\n", row.policy.c_str(),
                row.objects.c_str(), static_cast<long long>(r.episodes), static_cast<long long>(r.steps),
                static_cast<long long>(r.unstable), static_cast<long long>(r.unstable_in_reset),
                100.0 * double(r.successes) / double(r.episodes), double(r.episodes) / row.seconds,
                row.seconds);
  }
  std::printf("%-9s %-8s %9lld %10lld %9lld %8lld %8s %8.1f %7.0f\n", "total", "both",
              static_cast<long long>(total.episodes), static_cast<long long>(total.steps),
              static_cast<long long>(total.unstable), static_cast<long long>(total.unstable_in_reset), "",
              double(total.episodes) / elapsed(), elapsed());
  for (const std::string& example : total.examples) std::printf("    blow-up: %s\n", example.c_str());
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
