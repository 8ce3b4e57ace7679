// rl-goals fit end to end: real door episodes from rl-collect, the real
// rl-goals binary on the one training run, its checkpoint and reconstructions,
// the skew's metrics, bit-exact resume with the skew pool, and bad input.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/goal_file.h"
#include "nn/checkpoint.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::RunProcess;
using testing::ToolPath;

void CollectDoor(const std::string& dir, int episodes) {
  const auto r = RunProcess({ToolPath("rl-collect"), "--env", "door", "--cell.image-size", "32",
                             "--cell.max-episode-steps", "15", "--policy", "random", "--episodes",
                             std::to_string(episodes), "--seed", "1", "--threads", "1", "--out", dir});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Small, fast VAE flags: skewing starts at update 10, a pool of 64 redrawn every 8 updates.
std::vector<std::string> Fit(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-goals"),
                                   "fit",
                                   "--batch-size",
                                   "16",
                                   "--threads",
                                   "1",
                                   "--log-every",
                                   "2",
                                   "--vae.network.image-size",
                                   "24",
                                   "--vae.network.channels",
                                   "8,16",
                                   "--vae.network.kernels",
                                   "3,3",
                                   "--vae.network.strides",
                                   "2,2",
                                   "--vae.network.latent-dim",
                                   "4",
                                   "--vae.skew-warmup",
                                   "10",
                                   "--vae.skew-refresh",
                                   "8",
                                   "--vae.skew-pool",
                                   "64",
                                   "--vae.density-samples",
                                   "4",
                                   "--dataset.memory-budget-mb",
                                   "64"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::vector<nlohmann::json> Rows(const std::string& out) {
  std::vector<nlohmann::json> rows;
  for (const std::string& line : testing::Lines(testing::ReadFile(out + "/metrics.jsonl"))) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    nlohmann::json kept;
    for (const char* key : {"step", "loss", "log_likelihood", "kl", "skew_ess", "pool_log_density"})
      kept[key] = row.at(key);
    rows.push_back(kept);
  }
  return rows;
}

TEST_CASE("rl-goals fit trains a skewed VAE on door images: checkpoint, reconstructions, skew figures") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 3);
  const auto fit = RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "vae", "--steps", "30"}));
  INFO(fit.err);
  REQUIRE(fit.exit_code == 0);
  const CheckpointContents ckpt = ReadCheckpoint(tmp / "vae/latest.ckpt");
  CHECK(ckpt.metadata["algorithm"] == "vae");
  CHECK(ckpt.metadata["step"] == 30);
  CHECK(ckpt.metadata["vae"]["data_height"] == 32);
  CHECK(ckpt.metadata["vae"]["channels"] == 3);
  CHECK(ckpt.metadata["vae"]["network"]["latent_dim"] == 4);
  CHECK(ckpt.metadata["vae_pool"]["index"] == 2);  // pools 0, 1, 2 drawn at updates 10, 18, 26
  CHECK(ckpt.blobs.count("vae.pool_log_density") == 1);
  CHECK(ckpt.metadata["config_yaml"].get<std::string>().find("alpha: -1") != std::string::npos);
  // Two rows of 8 tiles of 24 pixels, enlarged twice: 96 x 384.
  const std::string png = testing::ReadFile(tmp / "vae/reconstructions.png");
  REQUIRE(png.size() > 24);
  CHECK(png.substr(1, 3) == "PNG");
  const auto be32 = [&](size_t at) {
    return (static_cast<uint8_t>(png[at]) << 24) | (static_cast<uint8_t>(png[at + 1]) << 16) |
           (static_cast<uint8_t>(png[at + 2]) << 8) | static_cast<uint8_t>(png[at + 3]);
  };
  CHECK(be32(16) == 384);
  CHECK(be32(20) == 96);
  const std::vector<nlohmann::json> rows = Rows(tmp / "vae");
  REQUIRE(rows.size() == 15);
  CHECK(rows.front()["skew_ess"] == 1.0);  // uniform before the warm-up ends
  CHECK(rows.back()["skew_ess"].get<double>() < 1.0);
  CHECK(rows.back()["skew_ess"].get<double>() > 0.0);
  CHECK(rows.back()["pool_log_density"].get<double>() < 0.0);
  CHECK(rows.back()["loss"].get<double>() < rows.front()["loss"].get<double>());
  // RIG: alpha 0 never skews.
  const auto rig = RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "rig", "--steps", "20", "--vae.alpha", "0"}));
  INFO(rig.err);
  REQUIRE(rig.exit_code == 0);
  for (const auto& row : Rows(tmp / "rig")) CHECK(row["skew_ess"] == 1.0);
  CHECK(ReadCheckpoint(tmp / "rig/latest.ckpt").metadata.count("vae_pool") == 0);
}

TEST_CASE("rl-goals fit --resume continues bit-exact, skew pool included") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 2);
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "whole", "--steps", "34"})).exit_code == 0);
  // Stopped at update 22, inside pool 1 (updates 18-25): the resumed run trains from the saved densities.
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "split", "--steps", "22"})).exit_code == 0);
  const auto resumed = RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "split", "--steps", "34", "--resume"}));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(Rows(tmp / "split") == Rows(tmp / "whole"));
  const CheckpointContents whole = ReadCheckpoint(tmp / "whole/latest.ckpt");
  const CheckpointContents split = ReadCheckpoint(tmp / "split/latest.ckpt");
  // (LibTorch's serialised Adam names its state by tensor addresses, so its bytes differ from process to
  // process; the equal rows of updates 23-34 show the optimiser state came back.)
  for (const std::string blob : {"vae.net", "vae.pool_log_density"}) {
    INFO(blob);
    CHECK(whole.blobs.at(blob) == split.blobs.at(blob));
  }
}

TEST_CASE("rl-goals fit: bad flags, data without the image, a VAE of another image size") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 1);
  const auto alpha = RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "a", "--vae.alpha", "0.5"}));
  CHECK(alpha.exit_code == 2);
  CHECK(alpha.err.find("--vae.alpha must be in [-1, 0]") != std::string::npos);
  const auto print = RunProcess(Fit({"--vae.alpha", "0.5", "--print-config"}));
  CHECK(print.exit_code == 2);
  const auto key = RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "k", "--vae.image-key", "proprio"}));
  CHECK(key.exit_code == 3);
  CHECK(key.err.find("no uint8 [H,W,C] image observation 'proprio' for the VAE (--vae.image-key)") !=
        std::string::npos);
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "run", "--steps", "4"})).exit_code == 0);
  std::vector<std::string> resize = Fit({"--data", tmp / "data", "--out", tmp / "run", "--steps", "6", "--resume"});
  *(std::find(resize.begin(), resize.end(), "--vae.network.image-size") + 1) = "32";
  const auto resized = RunProcess(resize);
  INFO(resized.err);
  CHECK(resized.exit_code == 3);
  CHECK(resized.err.find("the VAE's layers are") != std::string::npos);
  const auto none = RunProcess(Fit({"--out", tmp / "n", "--steps", "4"}));
  CHECK(none.exit_code == 2);
}

TEST_CASE("rl-goals sample: goals from the prior and from the data, the same seed the same file, bad input") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 2);
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "vae", "--steps", "12"})).exit_code == 0);
  const std::string vae = tmp / "vae/latest.ckpt";
  const auto prior = RunProcess(
      {ToolPath("rl-goals"), "sample", "--vae", vae, "--count", "6", "--seed", "3", "--out", tmp / "prior.h5"});
  INFO(prior.err);
  REQUIRE(prior.exit_code == 0);
  CHECK(prior.out == tmp / "prior.h5\n");
  const GoalSet from_prior = ReadGoalFile(tmp / "prior.h5");
  CHECK(from_prior.images.shape == std::vector<int64_t>{6, 32, 32, 3});  // the data's size, not the VAE's 24
  CHECK(from_prior.latents.shape == std::vector<int64_t>{6, 4});
  CHECK(from_prior.meta["source"] == "prior");
  CHECK(from_prior.meta["vae"] == vae);
  CHECK(from_prior.meta["vae_step"] == 12);
  CHECK(from_prior.meta["image_key"] == "image");
  const auto again = RunProcess(
      {ToolPath("rl-goals"), "sample", "--vae", vae, "--count", "6", "--seed", "3", "--out", tmp / "again.h5"});
  REQUIRE(again.exit_code == 0);
  const GoalSet repeated = ReadGoalFile(tmp / "again.h5");
  CHECK(repeated.images.u8 == from_prior.images.u8);
  CHECK(repeated.latents.f32 == from_prior.latents.f32);

  const auto data = RunProcess({ToolPath("rl-goals"), "sample", "--vae", vae, "--from", "data", "--data", tmp / "data",
                                "--pool", "50", "--count", "5", "--out", tmp / "data.h5"});
  INFO(data.err);
  REQUIRE(data.exit_code == 0);
  const GoalSet from_data = ReadGoalFile(tmp / "data.h5");
  CHECK(from_data.images.shape == std::vector<int64_t>{5, 32, 32, 3});
  CHECK(from_data.latents.shape == std::vector<int64_t>{5, 4});
  CHECK(from_data.meta["alpha"] == -1.0);
  CHECK(from_data.meta["pool"] == 50);
  // Tempered more lightly than the trainer's skew: at least a hundredth of the pool by default (skewed at least as
  // hard as with the trainer's floor of a tenth, below), uniform with a floor of all of it.
  CHECK(from_data.meta["skew_min_ess"] == 0.01);
  CHECK(from_data.meta["applied_alpha"].get<double>() >= -1.0);
  // The same draw with another floor, read back.
  const auto with_floor = [&](const std::string& floor, const std::string& name) {
    const auto run = RunProcess({ToolPath("rl-goals"), "sample", "--vae", vae, "--from", "data", "--data",
                                 tmp / "data", "--pool", "50", "--count", "5", "--skew-min-ess", floor, "--out",
                                 tmp / name});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    return ReadGoalFile(tmp / name);
  };
  const GoalSet tempered = with_floor("0.1", "tenth.h5");
  CHECK(tempered.meta["pool_effective_size"].get<double>() >= 5.0 - 1e-6);
  CHECK(tempered.meta["applied_alpha"].get<double>() >= from_data.meta["applied_alpha"].get<double>() - 1e-9);
  const GoalSet flat = with_floor("1", "uniform.h5");
  CHECK(flat.meta["applied_alpha"].get<double>() == doctest::Approx(0.0).epsilon(1e-3));
  CHECK(flat.meta["pool_effective_size"].get<double>() == doctest::Approx(50.0).epsilon(1e-3));
  const auto bad_floor = RunProcess({ToolPath("rl-goals"), "sample", "--vae", vae, "--from", "data", "--data",
                                     tmp / "data", "--skew-min-ess", "2", "--out", tmp / "x.h5"});
  CHECK(bad_floor.exit_code == 2);
  CHECK(bad_floor.err.find("--skew-min-ess must be in [0, 1]") != std::string::npos);

  const auto no_data =
      RunProcess({ToolPath("rl-goals"), "sample", "--vae", vae, "--from", "data", "--out", tmp / "x.h5"});
  CHECK(no_data.exit_code == 2);
  CHECK(no_data.err.find("--from data needs --data DIR") != std::string::npos);
  const auto alpha = RunProcess({ToolPath("rl-goals"), "sample", "--vae", vae, "--alpha", "1", "--out", tmp / "x.h5"});
  CHECK(alpha.exit_code == 2);
  testing::WriteFile(tmp / "junk.ckpt", "not a checkpoint");
  const auto junk = RunProcess({ToolPath("rl-goals"), "sample", "--vae", tmp / "junk.ckpt", "--out", tmp / "x.h5"});
  CHECK(junk.exit_code == 3);
  CHECK(junk.err.find(tmp / "junk.ckpt") != std::string::npos);
  CHECK(testing::ListFiles(tmp.path(), ".h5") ==
        std::vector<std::string>{"again.h5", "data.h5", "prior.h5", "tenth.h5", "uniform.h5"});
}

TEST_CASE("goal-conditioned collection, training and evaluation: --goals FILE on door") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 2);
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "vae", "--steps", "4"})).exit_code == 0);
  REQUIRE(RunProcess({ToolPath("rl-goals"), "sample", "--vae", tmp / "vae/latest.ckpt", "--from", "data", "--data",
                      tmp / "data", "--count", "3", "--out", tmp / "goals.h5"})
              .exit_code == 0);
  const GoalSet goals = ReadGoalFile(tmp / "goals.h5");
  const std::vector<std::string> door = {"--env", "door",    "--cell.image-size", "32", "--cell.max-episode-steps",
                                         "6",     "--goals", tmp / "goals.h5"};
  std::vector<std::string> collect = {
      ToolPath("rl-collect"), "--policy", "random", "--episodes", "3", "--seed", "4", "--threads", "1", "--out",
      tmp / "goal-data"};
  collect.insert(collect.end(), door.begin(), door.end());
  const auto collected = RunProcess(collect);
  INFO(collected.err);
  REQUIRE(collected.exit_code == 0);
  // The shard holds the goal as an observation at every step, and each episode's goal index.
  const std::string shard = testing::Lines(collected.out).at(0);
  const std::string dump = RunProcess({"/usr/bin/python3", "-c",
                                       "import h5py, json, sys\n"
                                       "f = h5py.File(sys.argv[1], 'r')\n"
                                       "d = f['data/demo_0']\n"
                                       "g = d['obs/goal_image']\n"
                                       "e = json.loads(d.attrs['extra_json'])\n"
                                       "print(g.shape[1], g.shape[2], g.shape[3], e['goal_index'], int(g[0].sum()), "
                                       "int(g[-1].sum()), len(e['true_state']['door_angle']) == g.shape[0] + 1)\n",
                                       shard})
                               .out;
  INFO(dump);
  std::istringstream fields(dump);
  int64_t h = 0, w = 0, c = 0, index = -1, first = 0, last = 0;
  std::string states;
  fields >> h >> w >> c >> index >> first >> last >> states;
  CHECK(h == 32);
  CHECK(w == 32);
  CHECK(c == 3);
  REQUIRE(index >= 0);
  REQUIRE(index < 3);
  int64_t expected = 0;
  for (size_t i = 0; i < 32 * 32 * 3; ++i) expected += goals.images.u8[index * 32 * 32 * 3 + i];
  CHECK(first == expected);
  CHECK(last == expected);
  CHECK(states == "True");
  // SAC reads the goal image stacked with the camera's; rl-eval runs its checkpoint with the goals.
  const auto trained = RunProcess({ToolPath("rl-train"),
                                   "sac",
                                   "--data",
                                   tmp / "goal-data",
                                   "--out",
                                   tmp / "sac",
                                   "--steps",
                                   "2",
                                   "--batch-size",
                                   "8",
                                   "--threads",
                                   "1",
                                   "--sac.network.hidden",
                                   "16",
                                   "--sac.network.encoder-channels",
                                   "4",
                                   "--sac.network.encoder-strides",
                                   "2",
                                   "--sac.network.feature-dim",
                                   "8"});
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  const nlohmann::json spec = ReadCheckpoint(tmp / "sac/latest.ckpt").metadata["input_spec"];
  CHECK(spec["image_keys"] == nlohmann::json::array({"goal_image", "image"}));
  std::vector<std::string> eval = {
      ToolPath("rl-eval"), "--policy",    tmp / "sac/latest.ckpt", "--episodes", "2", "--threads", "1",
      "--report",          tmp / "report"};
  eval.insert(eval.end(), door.begin(), door.end());
  const auto evaluated = RunProcess(eval);
  INFO(evaluated.err);
  CHECK(evaluated.exit_code == 0);
  // Goals of another image size than the cell's: one line, exit 3.
  std::vector<std::string> wrong = collect;
  *(std::find(wrong.begin(), wrong.end(), "32")) = "48";
  *(std::find(wrong.begin(), wrong.end(), tmp / "goal-data")) = tmp / "wrong";
  const auto refused = RunProcess(wrong);
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find(tmp / "goals.h5" + ": the goals are [32, 32, 3] images, the cell's 'image' is [48, 48, 3]") !=
        std::string::npos);
}

// The goal_vae of each episode in the shards `paths` name.
std::vector<std::string> GoalVaes(const std::vector<std::string>& paths) {
  std::vector<std::string> args = {"/usr/bin/python3", "-c",
                                   "import h5py, json, sys\n"
                                   "for p in sys.argv[1:]:\n"
                                   "  f = h5py.File(p, 'r')\n"
                                   "  for k in sorted(f['data'].keys(), key=lambda k: int(k.split('_')[1])):\n"
                                   "    d = f['data'][k]\n"
                                   "    assert d['obs/goal_image'].shape[1:] == (32, 32, 3)\n"
                                   "    print(json.loads(d.attrs['extra_json'])['goal_vae'])\n"};
  args.insert(args.end(), paths.begin(), paths.end());
  const auto r = RunProcess(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return testing::Lines(r.out);
}

// Replaces `path` atomically with a copy of `from`, as a trainer writes its latest.ckpt.
void Replace(const std::string& path, const std::string& from) {
  testing::WriteFile(path + ".tmp", testing::ReadFile(from));
  REQUIRE(std::rename((path + ".tmp").c_str(), path.c_str()) == 0);
}

TEST_CASE("goals from a VAE that keeps training: rl-collect --goals vae:CKPT and rl-goals sample --follow follow it") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 2);
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "vae", "--steps", "4", "--checkpoint-every", "4"}))
              .exit_code == 0);
  const std::string first = tmp / "vae/ckpt-00000004.ckpt";
  REQUIRE(RunProcess(Fit({"--data", tmp / "data", "--out", tmp / "vae", "--steps", "8", "--resume"})).exit_code == 0);
  const std::string second = tmp / "vae/latest.ckpt";
  const std::string first_id = ReadCheckpointId(first), second_id = ReadCheckpointId(second);
  REQUIRE(first_id != second_id);
  const std::string live = tmp / "live.ckpt";
  Replace(live, first);

  // A collector draws its goals from the VAE; when the checkpoint is replaced, later episodes take the new VAE's.
  testing::ChildProcess collector({ToolPath("rl-collect"), "--env", "door", "--cell.image-size", "32",
                                   "--cell.max-episode-steps", "4", "--goals", "vae:" + live, "--policy", "random",
                                   "--forever", "--dataset.episodes-per-shard", "1", "--threads", "1", "--out",
                                   tmp / "goal-data"});
  std::vector<std::string> shards = testing::WaitForLines(collector, 2);
  CHECK(GoalVaes({shards[0]}) == std::vector<std::string>{first_id});
  Replace(live, second);
  const size_t seen = testing::Lines(collector.OutSoFar()).size();  // episodes run before the replacement, and more
  testing::WaitForLines(collector, seen + 3);
  collector.Signal(SIGTERM);
  const auto stopped = collector.Wait();
  INFO(stopped.err);
  CHECK(stopped.exit_code == 130);
  CHECK(stopped.err.find("256 goals from the VAE of checkpoint " + second_id) != std::string::npos);
  const std::vector<std::string> vaes = GoalVaes(testing::Lines(stopped.out));
  CHECK(vaes.back() == second_id);
  // Every first-VAE episode comes before every second-VAE one: no episode went back to the old goals.
  const auto switched = std::find(vaes.begin(), vaes.end(), second_id);
  CHECK(std::count(vaes.begin(), switched, first_id) == switched - vaes.begin());
  CHECK(std::count(switched, vaes.end(), second_id) == vaes.end() - switched);

  // rl-goals sample --follow rewrites the goal file whenever the VAE is replaced.
  Replace(live, first);
  testing::ChildProcess follower({ToolPath("rl-goals"), "sample", "--vae", live, "--count", "3", "--follow", "0.1",
                                  "--out", tmp / "goals.h5"});
  testing::WaitForLines(follower, 1);
  CHECK(ReadGoalFile(tmp / "goals.h5").meta["vae_id"] == first_id);
  Replace(live, second);
  CHECK(testing::WaitForLines(follower, 2) == std::vector<std::string>{tmp / "goals.h5", tmp / "goals.h5"});
  CHECK(ReadGoalFile(tmp / "goals.h5").meta["vae_id"] == second_id);
  testing::WriteFile(live, "not a checkpoint");  // a trainer's bad write: warned about, the goals stay
  const auto followed = [&] {
    for (int i = 0; i < 100 && follower.ErrSoFar().find("keeping the goals written before") == std::string::npos; ++i) {
      ::usleep(50000);
    }
    follower.Signal(SIGTERM);
    return follower.Wait();
  }();
  CHECK(followed.exit_code == 130);
  CHECK(followed.err.find("keeping the goals written before") != std::string::npos);
  CHECK(ReadGoalFile(tmp / "goals.h5").meta["vae_id"] == second_id);

  // rl-eval draws them once: both policies compared meet the same goals.
  const auto evaluated = RunProcess({ToolPath("rl-eval"), "--env", "door", "--cell.image-size", "32",
                                     "--cell.max-episode-steps", "3", "--goals", "vae:" + second, "--policy", "random",
                                     "--compare", "random", "--episodes", "3", "--threads", "1"});
  INFO(evaluated.err);
  CHECK(evaluated.exit_code == 0);
  CHECK(evaluated.err.find("256 goals from the VAE of checkpoint " + second_id) != std::string::npos);

  // Bad input: one line each.
  const std::vector<std::string> collect = {ToolPath("rl-collect"), "--env", "door", "--cell.image-size", "32",
                                            "--policy", "random", "--episodes", "1", "--out", tmp / "bad"};
  auto with_goals = [&](const std::string& goals) {
    std::vector<std::string> argv = collect;
    argv.insert(argv.end(), {"--goals", goals});
    return RunProcess(argv);
  };
  const auto empty = with_goals("vae:");
  CHECK(empty.exit_code == 2);
  CHECK(empty.err.find("--goals vae:CKPT needs the checkpoint's path after 'vae:'") != std::string::npos);
  const auto junk = with_goals("vae:" + live);
  CHECK(junk.exit_code == 3);
  CHECK(junk.err.find(live) != std::string::npos);
  const auto follow = RunProcess({ToolPath("rl-goals"), "sample", "--vae", second, "--follow", "-1", "--out", tmp / "x.h5"});
  CHECK(follow.exit_code == 2);
  CHECK(follow.err.find("--follow must be in 0..86400 seconds") != std::string::npos);
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

TEST_CASE("rl-goals heldout: door goals over the range, judged by rl-eval on the true state per region") {
  testing::TempDir tmp;
  const std::vector<std::string> door = {"--env", "door", "--cell.image-size", "32", "--cell.max-episode-steps", "5"};
  std::vector<std::string> make = {ToolPath("rl-goals"), "heldout", "--count", "8", "--out", tmp / "heldout.h5"};
  make.insert(make.end(), door.begin(), door.end());
  const auto made = RunProcess(make);
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  CHECK(made.out == tmp / "heldout.h5\n");
  const GoalSet goals = ReadGoalFile(tmp / "heldout.h5");
  CHECK(goals.images.shape == std::vector<int64_t>{8, 32, 32, 3});
  CHECK(goals.latents.shape == std::vector<int64_t>{8, 0});
  CHECK(goals.meta["source"] == "heldout");
  CHECK(goals.meta["threshold"] == "0.08 rad of the hinge angle");
  REQUIRE(goals.meta["goals"].size() == 8);
  CHECK(goals.meta["goals"][3]["reset"]["goal_angle"].get<double>() == doctest::Approx(0.4375));
  // The door drawn open differs from the door drawn shut.
  const size_t frame = 32 * 32 * 3;
  CHECK(!std::equal(goals.images.u8.begin(), goals.images.u8.begin() + frame, goals.images.u8.begin() + 7 * frame));

  std::vector<std::string> eval = {ToolPath("rl-eval"), "--policy", "random", "--goals", tmp / "heldout.h5",
                                   "--episodes", "24", "--json", tmp / "eval.json"};
  eval.insert(eval.end(), door.begin(), door.end());
  const auto evaluated = RunProcess(eval);
  INFO(evaluated.err);
  REQUIRE(evaluated.exit_code == 0);
  CHECK(evaluated.err.find("goal region") != std::string::npos);
  const nlohmann::json report = nlohmann::json::parse(testing::ReadFile(tmp / "eval.json"));
  const nlohmann::json& regions = report["a"]["per_goal_region"];
  REQUIRE(!regions.empty());
  int64_t episodes = 0;
  for (const nlohmann::json& region : regions) {
    episodes += region["episodes"].get<int64_t>();
    CHECK(region["wilson95"][0].get<double>() <= region["success_rate"].get<double>());
  }
  CHECK(episodes == 24);
  // The random hand rarely moves the door: goals far from the start are not reached.
  for (const nlohmann::json& region : regions) {
    if (region["region"] == "0.75-1.00 rad") CHECK(region["successes"] == 0);
  }

  // rl-eval --goals heldout:8 meets the same goals without the file: the same episodes, the same outcomes.
  std::vector<std::string> direct = {ToolPath("rl-eval"), "--policy", "random", "--goals", "heldout:8",
                                     "--episodes", "24", "--json", tmp / "direct.json"};
  direct.insert(direct.end(), door.begin(), door.end());
  const auto direct_run = RunProcess(direct);
  INFO(direct_run.err);
  REQUIRE(direct_run.exit_code == 0);
  const nlohmann::json direct_report = nlohmann::json::parse(testing::ReadFile(tmp / "direct.json"));
  CHECK(direct_report["a"]["per_goal_region"] == regions);
  const nlohmann::json& direct_outcomes = direct_report["outcomes"]["a"];
  REQUIRE(direct_outcomes.size() == 24);
  for (size_t i = 0; i < 24; ++i) {
    CHECK(direct_outcomes[i]["success"] == report["outcomes"]["a"][i]["success"]);
    CHECK(direct_outcomes[i]["goal_region"] == report["outcomes"]["a"][i]["goal_region"]);
    CHECK(direct_outcomes[i]["return"] == report["outcomes"]["a"][i]["return"]);
  }
  // rl-collect --goals heldout:8 records the same goal images, with each episode's goal and region.
  std::vector<std::string> collect = {ToolPath("rl-collect"), "--policy", "random", "--goals", "heldout:8",
                                      "--episodes", "2", "--seed", "4", "--threads", "1", "--out", tmp / "data"};
  collect.insert(collect.end(), door.begin(), door.end());
  const auto collected = RunProcess(collect);
  INFO(collected.err);
  REQUIRE(collected.exit_code == 0);
  const std::string dump = RunProcess({"/usr/bin/python3", "-c",
                                       "import h5py, json, sys\n"
                                       "d = h5py.File(sys.argv[1], 'r')['data/demo_0']\n"
                                       "e = json.loads(d.attrs['extra_json'])\n"
                                       "print(e['goal_index'], int(d['obs/goal_image'][0].sum()))\n",
                                       testing::Lines(collected.out).at(0)})
                               .out;
  INFO(dump);
  std::istringstream fields(dump);
  int64_t index = -1, sum = -1;
  fields >> index >> sum;
  REQUIRE(index >= 0);
  REQUIRE(index < 8);
  int64_t expected = 0;
  for (size_t i = 0; i < frame; ++i) expected += goals.images.u8[index * frame + i];
  CHECK(sum == expected);

  std::vector<std::string> bad_count = {ToolPath("rl-eval"), "--policy", "random", "--goals", "heldout:zero"};
  bad_count.insert(bad_count.end(), door.begin(), door.end());
  const auto bad = RunProcess(bad_count);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--goals heldout:zero: N of heldout:N must be a whole number in 1..100000") != std::string::npos);

  std::vector<std::string> grasp = {ToolPath("rl-goals"), "heldout", "--env", "grasp", "--out", tmp / "g.h5"};
  const auto refused = RunProcess(grasp);
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("cell 'grasp' has no held-out goals (door and push have)") != std::string::npos);
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {

TEST_CASE("rl-goals coverage: the histogram of the true door angle, its entropy per window, a heat map") {
  testing::TempDir tmp;
  CollectDoor(tmp / "data", 4);  // 4 episodes of 15 steps: 64 observations
  const auto run = RunProcess({ToolPath("rl-goals"), "coverage", "--data", tmp / "data", "--bins", "6", "--range",
                               "0,1.2", "--windows", "2", "--png", tmp / "coverage.png"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json report = nlohmann::json::parse(run.out);
  CHECK(report["episodes"] == 4);
  CHECK(report["observations"] == 64);
  const std::vector<int64_t> histogram = report["histogram"].get<std::vector<int64_t>>();
  REQUIRE(histogram.size() == 6);
  int64_t total = 0;
  for (int64_t n : histogram) total += n;
  CHECK(total == 64);
  // Random hands barely move the door: every angle stays in the start range [0, 0.3], the first two bins.
  CHECK(histogram[0] + histogram[1] == 64);
  CHECK(report["entropy"].get<double>() <= std::log(2.0) + 1e-9);
  CHECK(report["max_entropy"].get<double>() == doctest::Approx(std::log(6.0)));
  REQUIRE(report["windows"].size() == 2);
  CHECK(report["windows"][1]["first_episode"] == 2);
  CHECK(testing::ReadFile(tmp / "coverage.png").substr(1, 3) == "PNG");

  const auto range = RunProcess({ToolPath("rl-goals"), "coverage", "--data", tmp / "data", "--range", "1,0"});
  CHECK(range.exit_code == 2);
  CHECK(range.err.find("--range must be low,high with low < high") != std::string::npos);
  const auto key = RunProcess({ToolPath("rl-goals"), "coverage", "--data", tmp / "data", "--state", "puck"});
  CHECK(key.exit_code == 3);
  CHECK(key.err.find("no observation records the true state 'puck'") != std::string::npos);

  // scripts/coverage_figure.sh draws runs' coverage side by side; inputs that are not coverage output, or
  // that disagree on the histogram, are refused with one line.
  testing::WriteFile(tmp / "coverage.json", run.out);
  const std::string script = testing::SourcePath("scripts/coverage_figure.sh");
  const auto figure = RunProcess({"/bin/bash", script, "--out", tmp / "runs.png", "--title", "two runs",
                                  "first=" + tmp / "coverage.json", "second=" + tmp / "coverage.json"});
  INFO(figure.err);
  CHECK(figure.exit_code == 0);
  CHECK(testing::ReadFile(tmp / "runs.png").substr(1, 3) == "PNG");
  const auto coarse = RunProcess({ToolPath("rl-goals"), "coverage", "--data", tmp / "data", "--bins", "3"});
  REQUIRE(coarse.exit_code == 0);
  testing::WriteFile(tmp / "three.json", coarse.out);
  const auto mixed = RunProcess({"/bin/bash", script, "--out", tmp / "x.png", "a=" + tmp / "coverage.json",
                                 "b=" + tmp / "three.json"});
  CHECK(mixed.exit_code == 3);
  CHECK(mixed.err.find("three.json: its state, range or bins differ from") != std::string::npos);
  testing::WriteFile(tmp / "truncated.json", run.out.substr(0, run.out.size() / 2));
  const auto truncated = RunProcess({"/bin/bash", script, "--out", tmp / "x.png", "a=" + tmp / "truncated.json"});
  CHECK(truncated.exit_code == 3);
  CHECK(truncated.err.find("truncated.json: not rl-goals coverage output") != std::string::npos);
  const auto missing = RunProcess({"/bin/bash", script, "--out", tmp / "x.png", "a=" + tmp / "none.json"});
  CHECK(missing.exit_code == 3);
  const auto no_label = RunProcess({"/bin/bash", script, "--out", tmp / "x.png", tmp / "coverage.json"});
  CHECK(no_label.exit_code == 2);
  CHECK(no_label.err.find("is not LABEL=COVERAGE.json") != std::string::npos);
  CHECK(RunProcess({"/bin/bash", script, "first=" + tmp / "coverage.json"}).exit_code == 2);  // no --out
  CHECK(!std::filesystem::exists(tmp / "x.png"));
}

}  // namespace
}  // namespace perpetua
