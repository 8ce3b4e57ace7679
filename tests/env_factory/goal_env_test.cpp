// --goals FILE: the "goal_image" observation (env/goal_env.h) on a real cell,
// chosen per episode seed or by the reset option, and every way the goals
// can fail to fit the cell.
#include "env/goal_env.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include "../sim/sim_test_util.h"
#include "data/goal_file.h"
#include "env/state_render.h"
#include "env/time_left_env.h"
#include "env_factory/heldout_goal_set.h"
#include "env_factory/make_env.h"
#include "sim/heldout_goals.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

// `n` goal images of side `side`, goal i filled with the value 10 * (i + 1).
std::string WriteGoals(const std::string& path, int64_t n, int64_t side) {
  GoalSet goals;
  goals.images = Array::Zeros(DType::kUint8, {n, side, side, 3});
  const size_t per = static_cast<size_t>(side * side * 3);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(goals.images.u8.begin() + i * per, goals.images.u8.begin() + (i + 1) * per,
              static_cast<uint8_t>(10 * (i + 1)));
  }
  goals.latents = Array::Zeros(DType::kFloat32, {n, 2});
  goals.meta = nlohmann::json::object();
  WriteGoalFile(path, goals);
  return path;
}

EnvConfig Door(const std::string& goals, int image_size = 32) {
  EnvConfig config;
  config.name = "door";
  config.image_size = image_size;
  config.max_episode_steps = 3;
  config.goals = goals;
  return config;
}

uint8_t GoalValue(const Observation& observation) { return observation.at(kGoalImageKey).u8.at(0); }

}  // namespace

TEST_CASE("goals add goal_image: chosen by the episode seed or the reset option, the same at every step") {
  testing::TempDir tmp;
  const std::string file = WriteGoals(tmp / "goals.h5", 4, 32);
  std::unique_ptr<Env> env = MakeEnv(Door(file));
  const EnvSpec& spec = env->spec();
  REQUIRE(spec.observations.back().key == kGoalImageKey);
  CHECK(spec.observations.back().dtype == DType::kUint8);
  CHECK(spec.observations.back().shape == std::vector<int64_t>{32, 32, 3});
  CHECK(spec.env_args.at("env_kwargs").at("goals") == file);  // datasets record the goal file

  std::set<int64_t> chosen;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const ResetResult reset = env->Reset(seed);
    const int64_t index = reset.info.at("goal_index").get<int64_t>();
    CHECK(GoalValue(reset.observation) == 10 * (index + 1));
    chosen.insert(index);
    CHECK(MakeEnv(Door(file))->Reset(seed).info.at("goal_index") == index);  // the seed decides
  }
  CHECK(chosen.size() == 4);
  ResetResult reset = env->Reset(7, {{"goal_index", 2}, {"goal_angle", 0.9}});
  CHECK(reset.info.at("goal_index") == 2);
  CHECK(reset.info.at("goal_angle") == 0.9);  // the other options reach the cell
  for (int i = 0; i < 3; ++i) CHECK(GoalValue(env->Step({0.1f, 0.2f, 0.0f}).observation) == 30);
  // With the clock, and as a state renderer: the goal stays in every observation.
  EnvConfig timed = Door(file);
  timed.observe_time = true;
  std::unique_ptr<Env> clocked = MakeEnv(timed);
  CHECK(clocked->spec().observations.size() == 3);
  const ResetResult clocked_reset = clocked->Reset(1, {{"goal_index", 3}});
  CHECK(GoalValue(clocked_reset.observation) == 40);
  CHECK(clocked_reset.observation.count(kTimeLeftKey) == 1);
  StateRenderer* renderer = AsStateRenderer(*clocked);
  REQUIRE(renderer != nullptr);
  CHECK(GoalValue(renderer->RenderState({{"door_angle", 0.5}})) == 40);
}

TEST_CASE("goals that do not fit: another image size, a bad index, a damaged or missing file") {
  testing::TempDir tmp;
  const std::string file = WriteGoals(tmp / "goals.h5", 2, 32);
  testing::ExpectError([&] { MakeEnv(Door(file, 48)); }, ExitCode::kBadData,
                       file + ": the goals are [32, 32, 3] images, the cell's 'image' is [48, 48, 3] (--cell.image-size?)");
  EnvConfig pendulum;
  pendulum.name = "pendulum";
  pendulum.goals = file;
  testing::ExpectError([&] { MakeEnv(pendulum); }, ExitCode::kBadData,
                       file + ": goal images need a cell with a uint8 'image' observation; pendulum has none");
  std::unique_ptr<Env> env = MakeEnv(Door(file));
  testing::ExpectError(
      [&] {
        env->Reset(1, {{"goal_index", 2}});
      },
      ExitCode::kUsage, "reset option 'goal_index' must be an integer in 0..1 (" + file + " holds 2 goals)");
  testing::ExpectError(
      [&] {
        env->Reset(1, {{"goal_index", "0"}});
      },
      ExitCode::kUsage, "'goal_index' must be an integer");
  testing::ExpectError(
      [&] {
        GoalImages again;
        again.images = Array::Zeros(DType::kUint8, {1, 32, 32, 3});
        MakeGoalEnv(MakeEnv(Door(file)), FixedGoalSupply(std::move(again), "again"));
      },
      ExitCode::kUsage, "door already observes 'goal_image': --goals adds it twice");
  testing::WriteFile(tmp / "junk.h5", "junk");
  testing::ExpectError([&] { MakeEnv(Door(tmp / "junk.h5")); }, ExitCode::kBadData, tmp / "junk.h5");
  testing::ExpectError([&] { MakeEnv(Door(tmp / "missing.h5")); }, ExitCode::kBadData, tmp / "missing.h5");
}

TEST_CASE("a goal file replaced while collecting: the next episode takes the new goals, the running one keeps its own") {
  testing::TempDir tmp;
  const std::string file = WriteGoals(tmp / "goals.h5", 1, 32);  // every goal 10
  std::unique_ptr<Env> env = MakeEnv(Door(file));
  ResetResult first = env->Reset(1);
  CHECK(GoalValue(first.observation) == 10);
  CHECK_FALSE(first.info.contains("goal_vae"));
  // rl-goals sample --follow replaces the file atomically: two goals 10 and 20, drawn by a VAE.
  GoalSet next;
  next.images = Array::Zeros(DType::kUint8, {2, 32, 32, 3});
  std::fill(next.images.u8.begin(), next.images.u8.end(), uint8_t{20});
  next.latents = Array::Zeros(DType::kFloat32, {2, 2});
  next.meta = {{"vae_id", "abc123"}};
  WriteGoalFile(tmp / "next.h5", next);
  std::filesystem::rename(tmp / "next.h5", file);
  CHECK(GoalValue(env->Step({0, 0, 0}).observation) == 10);  // within the episode: unchanged
  ResetResult second = env->Reset(2);
  CHECK(GoalValue(second.observation) == 20);
  CHECK(second.info.at("goal_vae") == "abc123");
  CHECK(GoalValue(env->Step({0, 0, 0}).observation) == 20);
  // A replacement that cannot be read (a writer that was not atomic): the last good goals stay.
  testing::WriteFile(file, "not hdf5");
  CHECK(GoalValue(env->Reset(3).observation) == 20);
  // Goals of another size are refused at the reset that would use them.
  WriteGoals(tmp / "small.h5", 1, 16);
  std::filesystem::rename(tmp / "small.h5", file);
  testing::ExpectError([&] { env->Reset(4); }, ExitCode::kBadData,
                       file + ": the goals are [16, 16, 3] images, the cell's 'image' is [32, 32, 3]");
  // vae:CKPT needs a supply that decodes the VAE (rl-collect, rl-eval).
  testing::ExpectError([&] { MakeEnv(Door("vae:run/latest.ckpt")); }, ExitCode::kUsage,
                       "--goals vae:run/latest.ckpt: goals drawn from a VAE are for rl-collect and rl-eval");
}

}  // namespace perpetua

namespace perpetua {
namespace {

TEST_CASE("held-out goals: spread over the range, each made the cell's own task, judged on its true state") {
  // The door: angles (i + 1/2)/8 rad in quarters of the range.
  const std::vector<sim::HeldoutGoal> door = sim::HeldoutGoals("door", 8);
  REQUIRE(door.size() == 8);
  CHECK(door[0].reset["goal_angle"].get<double>() == doctest::Approx(0.0625));
  CHECK(door[7].state["door_angle"].get<double>() == doctest::Approx(0.9375));
  CHECK(door[0].region == "0.00-0.25 rad");
  CHECK(door[7].region == "0.75-1.00 rad");
  std::set<std::string> regions;
  for (const auto& goal : door) regions.insert(goal.region);
  CHECK(regions.size() == 4);
  // The push table: a 3 x 3 grid over |x|, |y| <= 0.1, in four quadrants.
  const std::vector<sim::HeldoutGoal> push = sim::HeldoutGoals("push", 9);
  CHECK(push[0].reset["target"] == push[0].state["puck"]);
  CHECK(push[0].region == "x-y-");
  CHECK(push[8].region == "x+y+");
  testing::ExpectError([] { sim::HeldoutGoals("grasp", 4); }, ExitCode::kUsage,
                       "cell 'grasp' has no held-out goals (door and push have)");
  CHECK(sim::GoalThreshold("door") == "0.08 rad of the hinge angle");

  // A goal file with them: the cell is reset with the goal's options; success is reaching it.
  testing::TempDir tmp;
  GoalSet goals;
  goals.images = Array::Zeros(DType::kUint8, {2, 32, 32, 3});
  goals.latents = Array::Zeros(DType::kFloat32, {2, 0});  // no VAE made them
  goals.meta = {{"goals",
                 {{{"reset", {{"goal_angle", 0.9}}}, {"region", "far"}},
                  {{"reset", {{"goal_angle", 0.1}}}, {"region", "near"}}}}};
  WriteGoalFile(tmp / "heldout.h5", goals);
  const GoalSet read = ReadGoalFile(tmp / "heldout.h5");
  CHECK(read.latents.shape == std::vector<int64_t>{2, 0});
  CHECK(read.meta["goals"][1]["region"] == "near");
  std::unique_ptr<Env> env = MakeEnv(Door(tmp / "heldout.h5"));
  const ResetResult far = env->Reset(3, {{"goal_index", 0}, {"door_angle", 0.9}});
  CHECK(far.info["goal_region"] == "far");
  CHECK(far.info["goal_angle"].get<double>() == doctest::Approx(0.9));
  // Held at the goal angle: reached on the true state.
  StepResult step = env->Step({0.0f, 0.0f, 0.0f});
  CHECK(step.info["success"] == true);
  const ResetResult near = env->Reset(3, {{"goal_index", 1}, {"door_angle", 0.9}});
  CHECK(near.info["goal_region"] == "near");
  step = env->Step({0.0f, 0.0f, 0.0f});
  CHECK(step.info["success"] == false);

  // Meta "goals" that does not list one object per goal is refused.
  goals.meta = {{"goals", nlohmann::json::array({nlohmann::json::object()})}};
  testing::ExpectError([&] { WriteGoalFile(tmp / "bad.h5", goals); }, ExitCode::kUsage,
                       "meta 'goals' must list one object per goal (2)");
}

TEST_CASE("--goals heldout[:N]: the cell's held-out goals without a file, the same as rl-goals heldout's") {
  // The set rl-goals heldout writes, and the supply --goals heldout:6 makes, hold the same images byte for byte.
  const GoalSet set = HeldoutGoalSet(Door(""), 6, 0);
  REQUIRE(set.images.shape == std::vector<int64_t>{6, 32, 32, 3});
  CHECK(set.meta["threshold"] == "0.08 rad of the hinge angle");
  const std::shared_ptr<GoalSupply> supply = HeldoutGoalSupply(Door("heldout:6"));
  CHECK(supply->source() == "heldout:6");
  const std::shared_ptr<const GoalImages> goals = supply->Current();
  CHECK(goals->images.u8 == set.images.u8);
  CHECK(goals->info == set.meta["goals"]);
  // The seed only places what the pictures start from: another seed, the same goals' states.
  const GoalSet other = HeldoutGoalSet(Door(""), 6, 1);
  CHECK(other.meta["goals"] == set.meta["goals"]);
  CHECK(HeldoutGoalSupply(Door("heldout"))->Current()->images.shape[0] == kHeldoutGoalCount);

  // MakeEnv with it: each goal is the cell's task, judged on the true hinge angle.
  std::unique_ptr<Env> env = MakeEnv(Door("heldout:4"));
  const ResetResult reset = env->Reset(3, {{"goal_index", 3}});
  CHECK(reset.info["goal_region"] == "0.75-1.00 rad");
  CHECK(reset.info["goal_angle"].get<double>() == doctest::Approx(0.875));
  const GoalSet four = HeldoutGoalSet(Door(""), 4, 0);
  const size_t frame = 32 * 32 * 3;
  CHECK(reset.observation.at(kGoalImageKey).u8 ==
        std::vector<uint8_t>(four.images.u8.begin() + 3 * frame, four.images.u8.begin() + 4 * frame));

  // Every bad form gets one clear line.
  for (const char* bad : {"heldout:", "heldout:0", "heldout:x", "heldout:-3", "heldout:100001", "heldout:12345678"}) {
    INFO(bad);
    testing::ExpectError([&] { MakeEnv(Door(bad)); }, ExitCode::kUsage,
                         std::string("--goals ") + bad + ": N of heldout:N must be a whole number in 1..100000");
  }
  EnvConfig grasp;
  grasp.name = "grasp";
  grasp.image_size = 32;
  grasp.goals = "heldout";
  testing::ExpectError([&] { MakeEnv(grasp); }, ExitCode::kUsage,
                       "cell 'grasp' has no held-out goals (door and push have)");
}

}  // namespace
}  // namespace perpetua
