// VICE-RAQ learns push without the cell's reward, through the tools a user
// runs, on the reduced push task (32x32 images, 20-step episodes, the target
// fixed at the centre as a real VICE task's goal sits in one place):
// rl-label export of 40 scripted successes as the examples; a bootstrap of
// noisy scripted and random episodes; a paced collector (`rl-collect --policy
// run/latest.ckpt --reload --pace.run run`) beside `rl-train sac --reward
// vice --vice.oracle cell` for 12,000 gradient steps, asking a question every
// 200 new environment steps; then `rl-eval` of the final checkpoint against
// the random policy on the same 100 episodes, seeds collection never used. The
// rewards are the classifier's: the cell's reward reaches the learner only
// through the oracle's answers. About 4 minutes on CI's 2-core machine (9 here
// beside a second copy). PERPETUA_LEARNING_SEED reruns it with another seed.
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

TEST_CASE("VICE with the cell oracle learns the reduced push task through rl-label, rl-collect, rl-train and rl-eval") {
  const std::string seed = testing::LearningSeed("1");
  testing::TempDir tmp;
  const std::string data = tmp / "data", run = tmp / "run", examples = tmp / "examples";
  const std::vector<std::string> cell = {"--env", "push", "--cell.image-size", "32", "--cell.max-episode-steps",
                                         "20", "--cell.push-target", "0,0"};
  const auto tool = [&](const std::string& name, const std::vector<std::string>& args) {
    return testing::CellToolArgv(name, args, cell);
  };

  // The examples: the last frames of 40 successful scripted episodes (the user's 40 photos of the goal).
  ProcessResult r = RunProcess(tool("rl-collect", {"--policy", "scripted", "--episodes", "50", "--seed", "7",
                                                   "--threads", "1", "--out", tmp / "scripted"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess(tool("rl-label", {"export", "--data", tmp / "scripted", "--out", examples, "--count", "40"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // The bootstrap (loop.sh's): noisy scripted episodes, epsilon 0.2 toward random, then random ones.
  r = RunProcess(tool("rl-collect", {"--policy", "scripted", "--exploration.scripted-noise", "0.2",
                                     "--exploration.epsilon", "0.2", "--episodes", "100", "--seed", seed,
                                     "--threads", "1", "--out", data}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess(tool("rl-collect", {"--policy", "random", "--episodes", "50", "--first-episode", "100", "--seed",
                                     seed, "--threads", "1", "--out", data}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  const std::vector<std::string> sac = {
      "sac", "--batch-size", "128", "--threads", "1", "--seed", seed, "--out", run, "--data", data,
      "--sac.initial-alpha", "0.1", "--sac.network.encoder-channels", "16,16,16", "--sac.network.encoder-strides",
      "2,2,2", "--sac.network.hidden", "128,128", "--reward", "vice", "--vice.examples", examples,
      "--vice.query-every", "200", "--vice.oracle", "cell"};
  const auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = sac;
    args.insert(args.end(), extra.begin(), extra.end());
    return tool("rl-train", args);
  };
  r = RunProcess(train({"--steps", "0"}));  // the step-0 checkpoint the collector starts from
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  ChildProcess collector(tool("rl-collect", {"--policy", run + "/latest.ckpt", "--reload", "--forever",
                                             "--pace.run", run, "--pace.ahead", "200", "--first-episode", "150",
                                             "--dataset.episodes-per-shard", "1", "--threads", "1", "--seed", seed,
                                             "--out", data}));
  r = RunProcess(train({"--online", data, "--resume", "--steps", "12000", "--checkpoint-every", "200",
                        "--log-every", "1000"}));
  collector.Signal(SIGTERM);
  const ProcessResult collected = collector.Wait();
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(collected.exit_code == 130, collected.err);

  // A question every 200 new environment steps, each answered at once by the oracle.
  const std::vector<std::string> rows = testing::Lines(testing::ReadFile(run + "/metrics.jsonl"));
  REQUIRE(!rows.empty());
  const nlohmann::json last = nlohmann::json::parse(rows.back());
  const double queries = last.at("vice_queries").get<double>();
  CHECK(queries >= 20);
  CHECK(queries <= 12000 / 200 + 2);
  CHECK(last.at("vice_unanswered").get<double>() == 0);

  const ProcessResult eval = RunProcess(tool("rl-eval", {"--policy", run + "/latest.ckpt", "--compare", "random",
                                                         "--episodes", "100", "--seed", "1000" + seed, "--threads",
                                                         "1", "--json", tmp / "eval.json"}));
  REQUIRE_MESSAGE(eval.exit_code == 0, eval.err);
  const nlohmann::json report = nlohmann::json::parse(testing::ReadFile(tmp / "eval.json"));
  const double vice = report.at("a").at("success_rate").get<double>();
  const double random = report.at("b").at("success_rate").get<double>();
  std::fprintf(stderr,
               "reduced push, VICE-RAQ with the oracle, seed %s: %.0f questions (%.0f answered success), success "
               "%.2f against random %.2f on the same 100 episodes (%s)\n",
               seed.c_str(), queries, last.at("vice_answered_success").get<double>(), vice, random,
               report.at("comparison").at("verdict").get<std::string>().c_str());
  // Clearly better: a paired test on the same episodes says so, by at least 15 points. With 8,000
  // steps six runs measured 12% (CI, stop 28) to 58%, too near the bar; with 12,000 steps seeds 1-4
  // measured 84%, 46%, 69% and 43% against 0% (docs/vice.md).
  CHECK(report.at("comparison").at("verdict") == "better");
  CHECK(vice >= random + 0.15);
}

}  // namespace
}  // namespace perpetua
