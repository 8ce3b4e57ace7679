// rl-train sac --goals vae:CKPT end to end on real door shards: a VAE from
// rl-goals fit, goals from rl-goals sample, episodes with goal images from
// rl-collect --goals; the run's metrics and checkpoint, the checkpoint's
// policy in rl-collect and rl-eval (which need the goal images), bit-exact
// resume with the VAE fitting in the run, and bad input with one line.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "support/free_port.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ProcessResult;
using testing::RunProcess;
using testing::ToolPath;

const std::vector<std::string> kDoor = {"--env", "door", "--cell.image-size", "32", "--cell.max-episode-steps", "12"};

std::vector<std::string> Tool(const std::string& name, std::vector<std::string> args) {
  std::vector<std::string> argv = {ToolPath(name)};
  if (name == "rl-collect" || name == "rl-eval") argv.insert(argv.end(), kDoor.begin(), kDoor.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void Require(const ProcessResult& r) {
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Door episodes with goal images, a small VAE and its goals: {data, vae checkpoint, goal file}.
struct GoalData {
  std::string data, vae, goals;
};

GoalData MakeGoalData(const testing::TempDir& tmp) {
  GoalData g{tmp / "goal_data", tmp / "vae/latest.ckpt", tmp / "goals.h5"};
  Require(RunProcess(Tool("rl-collect", {"--policy", "random", "--episodes", "3", "--seed", "1", "--threads", "1",
                                         "--out", tmp / "plain"})));
  Require(RunProcess(Tool("rl-goals", {"fit", "--data", tmp / "plain", "--out", tmp / "vae", "--steps", "10",
                                       "--batch-size", "16", "--threads", "1", "--vae.network.image-size", "24",
                                       "--vae.network.channels", "8,16", "--vae.network.kernels", "3,3",
                                       "--vae.network.strides", "2,2", "--vae.network.latent-dim", "4",
                                       "--vae.skew-warmup", "100"})));
  Require(RunProcess(Tool("rl-goals", {"sample", "--vae", g.vae, "--count", "4", "--seed", "2", "--out", g.goals})));
  Require(RunProcess(Tool("rl-collect", {"--policy", "random", "--goals", g.goals, "--episodes", "4", "--seed", "3",
                                         "--threads", "1", "--out", g.data})));
  return g;
}

std::vector<std::string> Train(const GoalData& g, const std::string& out, std::vector<std::string> extra,
                               const std::string& goals = "") {
  std::vector<std::string> args = {"sac", "--data", g.data, "--out", out, "--goals", goals.empty() ? "vae:" + g.vae : goals, "--batch-size",
                                   "32", "--threads", "1", "--sac.network.hidden", "32,32", "--log-every", "2",
                                   "--goal.fit-every", "3", "--goal.skew-pool", "64", "--goal.skew-refresh", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Tool("rl-train", args);
}

std::vector<nlohmann::json> Rows(const std::string& out) {
  std::vector<nlohmann::json> rows;
  for (const std::string& line : testing::Lines(testing::ReadFile(out + "/metrics.jsonl"))) {
    nlohmann::json row = nlohmann::json::parse(line);
    for (const char* run_field : {"steps_per_s", "update_fraction", "wait_fraction", "elapsed_s"}) row.erase(run_field);
    rows.push_back(row);
  }
  return rows;
}

TEST_CASE("rl-train sac --goals vae:CKPT: latent goals relabelled, the VAE fitting, its policy driven by goal images") {
  testing::TempDir tmp;
  const GoalData g = MakeGoalData(tmp);
  const ProcessResult trained = RunProcess(Train(g, tmp / "run", {"--steps", "30"}));
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  CHECK(trained.err.find("20% rollout, 50% seen states (skewed), 30% hindsight; the VAE fits every 3 updates") !=
        std::string::npos);
  const std::vector<nlohmann::json> rows = Rows(tmp / "run");
  REQUIRE(rows.size() == 15);
  double rollout = 0, sampled = 0, hindsight = 0;
  for (const nlohmann::json& row : rows) {
    rollout += row.at("goal_rollout").get<double>() / 15;
    sampled += row.at("goal_sampled").get<double>() / 15;
    hindsight += row.at("goal_hindsight").get<double>() / 15;
    CHECK(row.at("goal_reward").get<double>() < 0);
    CHECK(row.at("vae_loss").get<double>() > 0);
  }
  // 960 rows: binomial sd under 1.7 points.
  CHECK(rollout == doctest::Approx(0.2).epsilon(0.35));
  CHECK(sampled == doctest::Approx(0.5).epsilon(0.15));
  CHECK(hindsight == doctest::Approx(0.3).epsilon(0.25));
  CHECK(rows.back().at("vae_skew_ess").get<double>() < 1.0);  // skewed (alpha -0.5) once the pool is drawn

  const CheckpointContents ckpt = ReadCheckpoint(tmp / "run/latest.ckpt");
  CHECK(ckpt.metadata["algorithm"] == "sac");
  CHECK(ckpt.metadata["step"] == 30);
  CHECK(ckpt.metadata["vae"]["steps"] == 10);  // updates 0, 3, ..., 27
  CHECK(ckpt.metadata["goals"]["latent_dim"] == 4);
  CHECK(ckpt.metadata["goals"]["goal_key"] == "goal_image");
  CHECK(ckpt.metadata["goals"]["vae"] == g.vae);
  CHECK(ckpt.metadata["input_spec"]["proprio_keys"] == nlohmann::json({"latent", "latent_goal"}));
  CHECK(ckpt.blobs.count("vae.net") == 1);
  CHECK(testing::ReadFile(tmp / "run/reconstructions.png").substr(1, 3) == "PNG");

  // The policy reads the camera and the goal image through its own VAE.
  Require(RunProcess(Tool("rl-collect", {"--policy", tmp / "run/latest.ckpt", "--goals", g.goals, "--episodes", "2",
                                         "--seed", "9", "--threads", "1", "--out", tmp / "collected"})));
  const ProcessResult evaluated =
      RunProcess(Tool("rl-eval", {"--policy", tmp / "run/latest.ckpt", "--goals", g.goals, "--episodes", "2",
                                  "--threads", "1", "--json", tmp / "eval.json"}));
  INFO(evaluated.err);
  CHECK(evaluated.exit_code == 0);
  const ProcessResult no_goals =
      RunProcess(Tool("rl-eval", {"--policy", tmp / "run/latest.ckpt", "--episodes", "1", "--threads", "1"}));
  CHECK(no_goals.exit_code == 3);
  CHECK(no_goals.err.find("the policy reaches goal images ('goal_image'): run cell 'door' with --goals FILE") !=
        std::string::npos);
}

TEST_CASE("rl-train sac --goals: resume is bit-exact with the VAE fitting in the run") {
  testing::TempDir tmp;
  const GoalData g = MakeGoalData(tmp);
  // Sampled goals from the prior, and from the skew pool (which a resumed run draws again before its first VAE step).
  for (const std::string from : {"prior", "data"}) {
    CAPTURE(from);
    const std::vector<std::string> to20 = {"--goal.sampled-from", from, "--steps", "20"};
    Require(RunProcess(Train(g, tmp / (from + "_whole"), to20)));
    // Stopped at 10 (inside a VAE pool, between VAE steps), resumed to 20.
    Require(RunProcess(Train(g, tmp / (from + "_split"), {"--goal.sampled-from", from, "--steps", "10"})));
    std::vector<std::string> resume = to20;
    resume.push_back("--resume");
    Require(RunProcess(Train(g, tmp / (from + "_split"), resume)));
    CHECK(Rows(tmp / (from + "_split")) == Rows(tmp / (from + "_whole")));
    const CheckpointContents whole = ReadCheckpoint(tmp / (from + "_whole/latest.ckpt"));
    const CheckpointContents split = ReadCheckpoint(tmp / (from + "_split/latest.ckpt"));
    CHECK(whole.metadata["goals"]["relabel"]["sampled_from"] == from);
    for (const std::string blob : {"vae.net", "vae.pool_log_density", "sac.actor", "sac.critic"}) {
      CAPTURE(blob);
      CHECK(split.blobs.at(blob) == whole.blobs.at(blob));
    }
  }
}

TEST_CASE("rl-train sac --goals: bad settings, a VAE of another image size, a missing VAE, with --reward vice") {
  testing::TempDir tmp;
  const GoalData g = MakeGoalData(tmp);
  const auto fails = [&](std::vector<std::string> extra, int code, const std::string& message,
                         const std::string& goals = "") {
    const ProcessResult r = RunProcess(Train(g, tmp / "bad", extra, goals));
    CAPTURE(r.err);
    CHECK(r.exit_code == code);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK(testing::Lines(r.err).size() <= 2);
  };
  fails({}, 2, "--goals must be vae:CKPT (an rl-goals fit checkpoint), not 'x.ckpt'", "x.ckpt");
  fails({"--goal.alpha", "0.5"}, 2, "--goal.alpha must be in [-1, 0]");
  fails({"--goal.rollout-fraction", "0.6"}, 2, "--goal.sampled-fraction plus --goal.rollout-fraction must be at most 1");
  fails({"--reward", "vice", "--vice.examples", tmp.path()}, 2, "--goals sets the rewards");
  fails({"--sac.n-step", "3"}, 2, "--sac.n-step sums the data's own rewards: not with --goals or --reward vice");
  fails({}, 3, "none.ckpt", "vae:" + tmp / "none.ckpt");
  // A VAE fitted on 32x32 images, data of 24x24.
  Require(RunProcess({ToolPath("rl-collect"), "--env", "door", "--cell.image-size", "24", "--policy", "random",
                      "--episodes", "1", "--seed", "4", "--threads", "1", "--out", tmp / "small"}));
  const ProcessResult small = RunProcess(Tool(
      "rl-train", {"sac", "--data", tmp / "small", "--out", tmp / "s", "--goals", "vae:" + g.vae, "--steps", "2"}));
  CHECK(small.exit_code == 3);
  CHECK(small.err.find(g.vae) != std::string::npos);
  const ProcessResult printed = RunProcess(Tool("rl-train", {"sac", "--goals", "x", "--print-config"}));
  CHECK(printed.exit_code == 2);
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

// Runs `argv` as rank r of 2 on a fresh loopback port, each rank to the end.
std::vector<ProcessResult> TwoRanks(const std::vector<std::string>& argv) {
  const std::string init = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<testing::ChildProcess>> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> a = argv;
    a.insert(a.end(), {"--dist.init", init, "--dist.rank", std::to_string(r), "--dist.world-size", "2",
                       "--dist.check-every", "2"});
    ranks.push_back(std::make_unique<testing::ChildProcess>(a));
  }
  std::vector<ProcessResult> results;
  for (auto& rank : ranks) results.push_back(rank->Wait());
  return results;
}

TEST_CASE("rl-goals fit and rl-train sac --goals train data-parallel - the replicas stay identical") {
  testing::TempDir tmp;
  const GoalData g = MakeGoalData(tmp);
  // The VAE alone, skewed from the start (its pool and densities differ per rank; its weights must not).
  for (const ProcessResult& r : TwoRanks(Tool(
           "rl-goals", {"fit", "--data", tmp / "plain", "--out", tmp / "vae2", "--steps", "8", "--batch-size", "16",
                        "--threads", "1", "--vae.network.image-size", "24", "--vae.network.channels", "8,16",
                        "--vae.network.kernels", "3,3", "--vae.network.strides", "2,2", "--vae.network.latent-dim",
                        "4", "--vae.skew-warmup", "0", "--vae.skew-pool", "64", "--vae.skew-refresh", "3"}))) {
    Require(r);
  }
  CHECK(ReadCheckpointMetadata(tmp / "vae2/latest.ckpt")["step"] == 8);
  // SAC in the latent space with the VAE fitting in the run.
  for (const ProcessResult& r : TwoRanks(Train(g, tmp / "run2", {"--steps", "12"}))) Require(r);
  CHECK(ReadCheckpointMetadata(tmp / "run2/latest.ckpt")["step"] == 12);
}

}  // namespace
}  // namespace perpetua
