// Skew-Fit learns to reach goal images on the reduced door (the rod starts
// behind the handle: --cell.door-start hooked), from pixels, with no reward
// and no goal given, through the tools a user runs: 60 random episodes;
// rl-goals fit (800 updates, alpha -1); 30 random episodes toward seen
// states drawn with the skew weights (rl-goals sample --from data); then,
// beside `rl-train sac --goals vae:CKPT --goal.alpha -1` for 8,000 updates
// (the VAE fitting in the run, sampled goals from seen states), a goal
// stream (rl-goals sample --from data --follow over the trainer's newest
// checkpoint) and a paced collector that acts with the trainer's newest
// checkpoint toward its goals (rl-collect --goals FILE --policy
// run/latest.ckpt --reload); then rl-eval of the final checkpoint against
// the random policy on the same 60 episodes of 20 held-out goal images
// spread over the door's range, judged on the true hinge angle (within 0.08
// rad at the episode's end). About 3 minutes of one core.
// PERPETUA_LEARNING_SEED reruns it with another seed.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ChildProcess;
using testing::ProcessResult;
using testing::RunProcess;
using testing::ToolPath;

TEST_CASE("Skew-Fit learns to reach held-out goal images on the reduced door through rl-goals, rl-collect, rl-train and rl-eval") {
  const std::string seed = testing::LearningSeed("1");
  testing::TempDir tmp;
  const std::string data = tmp / "data", run = tmp / "run", vae = tmp / "vae", goals = tmp / "goals.h5";
  const std::vector<std::string> cell = {"--env", "door", "--cell.image-size", "48", "--cell.max-episode-steps", "50",
                                         "--cell.door-start", "hooked"};
  const auto tool = [&](const std::string& name, const std::vector<std::string>& args) {
    return testing::CellToolArgv(name, args, cell);
  };
  // Goals from the seen states of `dirs`, drawn with the skew weights of the VAE at `checkpoint`.
  const auto sample = [&](const std::string& checkpoint, const std::string& dirs, std::vector<std::string> extra) {
    std::vector<std::string> args = {"sample", "--vae", checkpoint, "--from", "data", "--data", dirs, "--alpha", "-1",
                                     "--count", "256", "--seed", seed, "--threads", "1", "--out", goals};
    args.insert(args.end(), extra.begin(), extra.end());
    return tool("rl-goals", args);
  };

  ProcessResult r = RunProcess(tool("rl-collect", {"--policy", "random", "--episodes", "60", "--seed", seed,
                                                   "--threads", "1", "--out", tmp / "boot"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess(tool("rl-goals", {"fit", "--data", tmp / "boot", "--out", vae, "--steps", "800", "--batch-size", "64",
                                   "--threads", "1", "--seed", seed, "--vae.alpha", "-1", "--vae.skew-warmup", "300",
                                   "--vae.beta", "0.2"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess(sample(vae + "/latest.ckpt", tmp / "boot", {}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess(tool("rl-collect", {"--goals", goals, "--policy", "random", "--episodes", "30", "--first-episode",
                                     "60", "--seed", seed, "--threads", "1", "--out", data}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  const std::vector<std::string> sac = {"sac",         "--data",       data,  "--out", run, "--goals",
                                        "vae:" + vae + "/latest.ckpt", "--goal.alpha", "-1", "--batch-size", "128",
                                        "--threads",   "1",            "--seed", seed};
  const auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = sac;
    args.insert(args.end(), extra.begin(), extra.end());
    return tool("rl-train", args);
  };
  r = RunProcess(train({"--steps", "0"}));  // the step-0 checkpoint the goal stream and the collector start from
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  ChildProcess stream(sample(run + "/latest.ckpt", data, {"--follow", "2"}));
  REQUIRE(testing::WaitForLines(stream, 1).size() == 1);  // the first goals are written
  ChildProcess collector(tool("rl-collect", {"--goals", goals, "--policy", run + "/latest.ckpt", "--reload",
                                             "--forever", "--pace.run", run, "--pace.ratio", "0.5", "--pace.ahead",
                                             "500", "--first-episode", "90", "--dataset.episodes-per-shard", "5",
                                             "--threads", "1", "--seed", seed, "--out", data}));
  r = RunProcess(train({"--online", data, "--resume", "--steps", "8000", "--checkpoint-every", "1000",
                        "--log-every", "1000"}));
  collector.Signal(SIGTERM);
  stream.Signal(SIGTERM);
  const ProcessResult collected = collector.Wait();
  const ProcessResult streamed = stream.Wait();
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(collected.exit_code == 130, collected.err);
  CHECK_MESSAGE(streamed.exit_code == 130, streamed.err);
  // The goals followed the trainer's VAE: drawn again for new checkpoints, and read again by the collector.
  CHECK(testing::Lines(streamed.out).size() >= 3);
  const std::string read = goals + ": 256 goals from the VAE of checkpoint ";
  const size_t first = collected.err.find(read);
  CHECK(first != std::string::npos);
  CHECK(collected.err.find(read, first + 1) != std::string::npos);

  r = RunProcess(tool("rl-goals", {"heldout", "--count", "20", "--out", tmp / "heldout.h5"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const ProcessResult eval =
      RunProcess(tool("rl-eval", {"--goals", tmp / "heldout.h5", "--policy", run + "/latest.ckpt", "--compare",
                                  "random", "--episodes", "60", "--seed", "1000" + seed, "--threads", "1", "--json",
                                  tmp / "eval.json"}));
  REQUIRE_MESSAGE(eval.exit_code == 0, eval.err);
  const nlohmann::json report = nlohmann::json::parse(testing::ReadFile(tmp / "eval.json"));
  const double skewfit = report.at("a").at("success_rate").get<double>();
  const double random = report.at("b").at("success_rate").get<double>();
  std::fprintf(stderr,
               "reduced door, Skew-Fit, seed %s: held-out goals reached %.2f against random %.2f on the same 60 "
               "episodes (%s)\n",
               seed.c_str(), skewfit, random, report.at("comparison").at("verdict").get<std::string>().c_str());
  // Clearly better: a paired test on the same episodes says so, by at least 25 points (docs/goals.md).
  CHECK(report.at("comparison").at("verdict") == "better");
  CHECK(skewfit >= random + 0.25);
}

}  // namespace
}  // namespace perpetua
