// SAC learns, through the tools a user runs: pendulum from state (Gymnasium's
// Pendulum-v1 dynamics) with RLtools' settings. One random episode, then a
// paced collector (`rl-collect --policy run/latest.ckpt --reload --pace.run
// run`: one environment step per gradient step) beside `rl-train sac
// --online data` for 10k gradient steps, about 10k environment steps; then
// `rl-eval` of the final checkpoint (mean action) on 10 episodes whose seeds
// collection never used must average at least -200 (the usual "solved"
// line; a random policy gets about -1,200). About 30 s of one core on the
// 2-core machine. PERPETUA_LEARNING_SEED reruns it with another seed.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ChildProcess;
using testing::ProcessResult;
using testing::RunProcess;
using testing::ToolPath;

TEST_CASE("SAC learns pendulum from state through rl-collect, rl-train sac and rl-eval") {
  const std::string seed = testing::LearningSeed("1");
  testing::TempDir tmp;
  const std::string data = tmp / "data", run = tmp / "run";
  // RlToolsPendulumConfig as flags: 64-64 MLPs, batch 100, Adam 1e-3 (eps
  // 1e-7), initial alpha 0.5, an actor update with every critic update.
  const std::vector<std::string> sac = {
      "--sac.network.hidden", "64,64", "--batch-size", "100", "--sac.actor-lr", "1e-3", "--sac.critic-lr", "1e-3",
      "--sac.alpha-lr", "1e-3", "--sac.adam-eps", "1e-7", "--sac.initial-alpha", "0.5", "--sac.policy-every", "1",
      "--threads", "1", "--seed", seed, "--out", run, "--data", data};
  const auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {ToolPath("rl-train"), "sac"};
    argv.insert(argv.end(), sac.begin(), sac.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };

  ProcessResult r = RunProcess({ToolPath("rl-collect"), "--env", "pendulum", "--policy", "random", "--episodes",
                                "1", "--seed", seed, "--out", data});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess(train({"--steps", "0"}));  // the step-0 checkpoint the collector starts from
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  ChildProcess collector({ToolPath("rl-collect"), "--env", "pendulum", "--policy", run + "/latest.ckpt",
                          "--reload", "--forever", "--pace.run", run, "--pace.ahead", "0", "--first-episode", "1",
                          "--dataset.episodes-per-shard", "1", "--threads", "1", "--seed", seed, "--out", data});
  r = RunProcess(train({"--online", data, "--online-fraction", "1", "--resume", "--steps", "10000",
                        "--checkpoint-every", "200", "--log-every", "1000"}));
  collector.Signal(SIGTERM);
  const ProcessResult collected = collector.Wait();
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(collected.exit_code == 130, collected.err);  // stopped by the TERM, shards closed
  // Paced: about one environment step per gradient step (the last episode
  // may still have been running when the trainer finished).
  const ProcessResult inspect = RunProcess({ToolPath("rl-data"), "inspect", data});
  REQUIRE_MESSAGE(inspect.exit_code == 0, inspect.err);
  const int64_t steps = nlohmann::json::parse(inspect.out).at("transitions").get<int64_t>();
  CHECK(steps >= 200 + 9600);
  CHECK(steps <= 200 + 10000 + 400);

  const ProcessResult eval = RunProcess({ToolPath("rl-eval"), "--env", "pendulum", "--policy", run + "/latest.ckpt",
                                         "--episodes", "10", "--seed", "1000" + seed, "--json", tmp / "eval.json"});
  REQUIRE_MESSAGE(eval.exit_code == 0, eval.err);
  const nlohmann::json report = nlohmann::json::parse(testing::ReadFile(tmp / "eval.json"));
  const double mean_return = report.at("a").at("mean_return").get<double>();
  std::fprintf(stderr, "pendulum SAC through the tools, seed %s: %lld environment steps, mean return %.1f\n",
               seed.c_str(), static_cast<long long>(steps), mean_return);
  CHECK(mean_return >= -200.0);
}

}  // namespace
}  // namespace perpetua
