// --goals FILE: the "goal_image" observation (env/goal_env.h) on a real cell,
// chosen per episode seed or by the reset option, and every way the goals
// can fail to fit the cell.
#include "env/goal_env.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "../sim/sim_test_util.h"
#include "data/goal_file.h"
#include "env/state_render.h"
#include "env/time_left_env.h"
#include "env_factory/make_env.h"
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
        MakeGoalEnv(MakeEnv(Door(file)), Array::Zeros(DType::kUint8, {1, 32, 32, 3}), "again");
      },
      ExitCode::kUsage, "door already observes 'goal_image': --goals adds it twice");
  testing::WriteFile(tmp / "junk.h5", "junk");
  testing::ExpectError([&] { MakeEnv(Door(tmp / "junk.h5")); }, ExitCode::kBadData, tmp / "junk.h5");
  testing::ExpectError([&] { MakeEnv(Door(tmp / "missing.h5")); }, ExitCode::kBadData, tmp / "missing.h5");
}

}  // namespace perpetua
