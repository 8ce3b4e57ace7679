// rl-train sac end to end: real pendulum episodes from rl-collect, the real
// rl-train binary, its checkpoints in rl-collect (sampling) and rl-eval (mean),
// bit-exact resume, and the ways its input can be wrong.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "env_factory/make_env.h"
#include "learners/register_learners.h"
#include "nn/checkpoint.h"
#include "policy/checkpoint_policy.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::RunProcess;
using testing::ToolPath;

const std::vector<std::string> kPendulum = {"--env", "pendulum", "--cell.max-episode-steps", "20"};

// Collects `episodes` random pendulum episodes into `dir`.
void CollectRandom(const std::string& dir, int episodes, const std::vector<std::string>& cell = kPendulum) {
  std::vector<std::string> argv = {ToolPath("rl-collect"), "--policy", "random", "--episodes",
                                   std::to_string(episodes), "--seed", "1", "--threads", "1", "--out", dir};
  argv.insert(argv.end(), cell.begin(), cell.end());
  const auto r = RunProcess(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Small, fast SAC training flags.
std::vector<std::string> Train(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-train"), "sac", "--batch-size", "16", "--threads", "1",
                                   "--sac.network.hidden", "16,16", "--log-every", "2",
                                   "--dataset.memory-budget-mb", "64"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// OUT/metrics.jsonl rows, each reduced to the step and the learner's figures.
std::vector<nlohmann::json> LearnerRows(const std::string& out) {
  std::vector<nlohmann::json> rows;
  for (const std::string& line : testing::Lines(testing::ReadFile(out + "/metrics.jsonl"))) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    nlohmann::json kept;
    for (const char* key : {"step", "critic_loss", "actor_loss", "alpha", "alpha_loss", "entropy", "q_mean",
                            "q_min", "q_max", "target_mean"}) {
      kept[key] = row.at(key);
    }
    rows.push_back(kept);
  }
  return rows;
}

TEST_CASE("rl-train sac trains on collected pendulum data - rl-collect and rl-eval load its checkpoint") {
  testing::TempDir tmp;
  CollectRandom(tmp / "data", 3);
  const auto train = RunProcess(Train({"--data", tmp / "data", "--out", tmp / "run", "--steps", "6"}));
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  CHECK(train.out == tmp / "run/latest.ckpt\n");
  const nlohmann::json meta = ReadCheckpointMetadata(tmp / "run/latest.ckpt");
  CHECK(meta["algorithm"] == "sac");
  CHECK(meta["step"] == 6);
  CHECK(meta["input_spec"]["proprio_keys"] == nlohmann::json::array({"state"}));
  CHECK(LearnerRows(tmp / "run").size() == 3);

  // The registry's SAC loader: the mean action for evaluation (explore = false),
  // samples for collection.
  RegisterLearnerPolicies();
  EnvConfig cell;
  cell.name = "pendulum";
  const auto env = MakeEnv(cell);
  const Observation observation = env->Reset(3).observation;
  PolicyLoadOptions options;
  options.explore = false;
  const auto mean = LoadCheckpointPolicy(tmp / "run/latest.ckpt", env->spec(), options);
  mean->BeginEpisode(1);
  const std::vector<float> first = mean->Act(observation, {});
  mean->BeginEpisode(2);
  CHECK(mean->Act(observation, {}) == first);
  options.explore = true;
  const auto sampling = LoadCheckpointPolicy(tmp / "run/latest.ckpt", env->spec(), options);
  sampling->BeginEpisode(1);
  CHECK(sampling->Act(observation, {}) != first);

  std::vector<std::string> collect = {ToolPath("rl-collect"), "--policy", tmp / "run/latest.ckpt", "--reload",
                                      "--episodes", "2", "--seed", "2", "--threads", "1", "--out", tmp / "own"};
  collect.insert(collect.end(), kPendulum.begin(), kPendulum.end());
  const auto collected = RunProcess(collect);
  INFO(collected.err);
  CHECK(collected.exit_code == 0);
  CHECK(!testing::ListFiles(tmp / "own", ".h5").empty());

  std::vector<std::string> eval = {ToolPath("rl-eval"), "--policy", tmp / "run/latest.ckpt", "--episodes", "2",
                                   "--workers", "1", "--threads", "1", "--json", tmp / "report.json"};
  eval.insert(eval.end(), kPendulum.begin(), kPendulum.end());
  const auto evaluated = RunProcess(eval);
  INFO(evaluated.err);
  CHECK(evaluated.exit_code == 0);
  CHECK(!testing::ReadFile(tmp / "report.json").empty());
}

TEST_CASE("rl-train sac --resume continues bit-exact") {
  testing::TempDir tmp;
  CollectRandom(tmp / "data", 3);
  REQUIRE(RunProcess(Train({"--data", tmp / "data", "--out", tmp / "whole", "--steps", "8"})).exit_code == 0);
  REQUIRE(RunProcess(Train({"--data", tmp / "data", "--out", tmp / "split", "--steps", "4"})).exit_code == 0);
  // What a SIGKILL mid-save leaves behind; a resumed run removes it (and nothing else).
  testing::WriteFile(tmp / "split/latest.ckpt.tmp-vm-1-2-3", "half a checkpoint");
  testing::WriteFile(tmp / "split/ckpt-00000004.ckpt.tmp-vm-4-5-6", "");
  testing::WriteFile(tmp / "split/notes.tmp-1", "mine");
  const auto resumed =
      RunProcess(Train({"--data", tmp / "data", "--out", tmp / "split", "--steps", "8", "--resume"}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(LearnerRows(tmp / "split") == LearnerRows(tmp / "whole"));
  CHECK(testing::ListFiles(tmp / "split", ".tmp-vm-1-2-3").empty());
  CHECK(testing::ListFiles(tmp / "split", ".tmp-vm-4-5-6").empty());
  CHECK(testing::ReadFile(tmp / "split/notes.tmp-1") == "mine");
  CHECK(resumed.err.find("removed latest.ckpt.tmp-vm-1-2-3, left by a killed run") != std::string::npos);
  const CheckpointContents whole = ReadCheckpoint(tmp / "whole/latest.ckpt");
  const CheckpointContents split = ReadCheckpoint(tmp / "split/latest.ckpt");
  for (const char* blob : {"sac.actor", "sac.critic", "sac.target_critic", "sac.critic_adam", "sac.actor_adam"}) {
    INFO(blob);
    CHECK(whole.blobs.at(blob) == split.blobs.at(blob));
  }
  CHECK(whole.metadata["sac_state"] == split.metadata["sac_state"]);
}

TEST_CASE("rl-train sac and the policy loaders refuse mismatched observations or action boxes") {
  testing::TempDir tmp;
  CollectRandom(tmp / "pendulum", 2);
  REQUIRE(RunProcess(Train({"--data", tmp / "pendulum", "--out", tmp / "run", "--steps", "2"})).exit_code == 0);
  const std::string ckpt = tmp / "run/latest.ckpt";
  // A matching warm start trains from step 0.
  const auto init = RunProcess(Train({"--data", tmp / "pendulum", "--out", tmp / "warm", "--init", ckpt,
                                      "--steps", "2"}));
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  CHECK(ReadCheckpointMetadata(tmp / "warm/latest.ckpt")["step"] == 2);
  const std::vector<std::string> grasp = {"--env", "grasp", "--cell.image-size", "16", "--cell.max-episode-steps",
                                          "3"};
  CollectRandom(tmp / "grasp", 1, grasp);

  // The default encoder's strides leave nothing of a 16x16 image: a usage error naming the flag.
  auto r = RunProcess(Train({"--data", tmp / "grasp", "--out", tmp / "deep"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("rl-train: error: --sac.network.encoder-strides leave nothing of a 16x16 image", 0) == 0);

  r = RunProcess(Train({"--data", tmp / "grasp", "--out", tmp / "init", "--init", ckpt,
                        "--sac.network.encoder-channels", "8,8", "--sac.network.encoder-strides", "2,2"}));
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("rl-train: error: " + ckpt + ": checkpoint does not match this data: ", 0) == 0);
  CHECK(testing::Lines(r.err).size() == 1);

  std::vector<std::string> eval = {ToolPath("rl-eval"), "--policy", ckpt, "--episodes", "1", "--workers", "1",
                                   "--threads", "1"};
  eval.insert(eval.end(), grasp.begin(), grasp.end());
  r = RunProcess(eval);
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("rl-eval: error: " + ckpt + ": checkpoint does not match cell 'grasp': ", 0) == 0);
  CHECK(testing::Lines(r.err).size() == 1);
}

TEST_CASE("rl-train sac --sac.n-step bootstraps n steps on: the same update at gamma 0, another target at 0.99") {
  testing::TempDir tmp;
  CollectRandom(tmp / "data", 3);
  const auto run = [&](const std::string& name, const std::string& n, const std::string& gamma) {
    const auto r = RunProcess(Train({"--data", tmp / "data", "--out", tmp / name, "--steps", "4", "--sac.n-step", n,
                                     "--sac.gamma", gamma}));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return LearnerRows(tmp / name);
  };
  // With gamma 0 an n-step row's reward is its first and nothing is bootstrapped: one-step SAC.
  CHECK(run("one0", "1", "0") == run("three0", "3", "0"));
  const auto one = run("one", "1", "0.99"), three = run("three", "3", "0.99");
  REQUIRE(one.size() == three.size());
  CHECK(one[0]["target_mean"] != three[0]["target_mean"]);
  CHECK(one[0]["critic_loss"] != three[0]["critic_loss"]);
  // The setting is recorded with the checkpoint's effective config.
  const nlohmann::json meta = ReadCheckpointMetadata(tmp / "three/latest.ckpt");
  CHECK(meta["config_yaml"].get<std::string>().find("n_step: 3") != std::string::npos);
}

TEST_CASE("rl-train sac usage errors name the flag") {
  testing::TempDir tmp;
  auto r = RunProcess(Train({"--data", tmp / "none", "--out", tmp / "run", "--sac.gamma", "2"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --sac.gamma must be in [0, 1]\n");
  r = RunProcess(Train({"--data", tmp / "none", "--out", tmp / "run", "--sac.network.hidden", "0"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--sac.network.hidden") != std::string::npos);
  r = RunProcess({ToolPath("rl-train"), "sac", "--print-config"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("critic_lr: 0.001") != std::string::npos);
  CHECK(r.out.find("steps: 2000") != std::string::npos);
  CHECK(r.out.find("warmup_steps") == std::string::npos);  // the in-process loop's, not a flag here
  r = RunProcess(Train({"--data", tmp / "none", "--out", tmp / "run", "--sac.n-step", "0"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err == "rl-train: error: --sac.n-step must be in [1, 100]\n");
  r = RunProcess(Train({"--data", tmp / "none", "--out", tmp / "run", "--sac.batch-size", "4"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--sac.batch-size") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
