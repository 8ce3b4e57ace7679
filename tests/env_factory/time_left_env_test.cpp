// --cell.observe-time: the "time_left" observation (env/time_left_env.h).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "../sim/sim_test_util.h"
#include "env/state_render.h"
#include "env/time_left_env.h"
#include "env_factory/make_env.h"

namespace perpetua {
namespace {

float TimeLeftOf(const Observation& observation) {
  const Array& time_left = observation.at(kTimeLeftKey);
  REQUIRE(time_left.shape == std::vector<int64_t>{1});
  return time_left.f32.at(0);
}

// A two-step env with one vector observation and no state renderer, as a robot.
class NoPicturesEnv : public Env {
 public:
  NoPicturesEnv() {
    spec_.name = "tcp://fake:1";
    spec_.observations = {{"proprio", DType::kFloat32, {1}}};
    spec_.action = {{-1.0f}, {1.0f}, {"dx"}};
    spec_.max_episode_steps = 2;
  }
  const EnvSpec& spec() const override { return spec_; }

 protected:
  ResetResult DoReset(uint64_t, const nlohmann::json&) override { return {{{"proprio", Array::FromFloats({0})}}, {}}; }
  StepResult DoStep(const std::vector<float>&) override {
    StepResult result;
    result.observation["proprio"] = Array::FromFloats({1});
    result.truncated = episode_steps() + 1 >= 2;
    return result;
  }

 private:
  EnvSpec spec_;
};

}  // namespace

TEST_CASE("observe_time adds time_left, counting down to 0 at the time limit") {
  EnvConfig config;
  config.name = "pendulum";
  config.max_episode_steps = 4;
  config.observe_time = true;
  std::unique_ptr<Env> env = MakeEnv(config);
  const EnvSpec& spec = env->spec();
  REQUIRE(spec.observations.size() == 2);
  CHECK(spec.observations.back().key == "time_left");
  CHECK(spec.observations.back().dtype == DType::kFloat32);
  CHECK(spec.observations.back().shape == std::vector<int64_t>{1});
  CHECK(spec.env_args.at("env_kwargs").at("observe_time") == true);

  ResetResult reset = env->Reset(3);
  CHECK(TimeLeftOf(reset.observation) == 1.0f);
  CHECK(reset.observation.count("state") == 1);
  std::vector<float> expected = {0.75f, 0.5f, 0.25f, 0.0f};
  for (int k = 0; k < 4; ++k) {
    StepResult step = env->Step({0.5f});
    CHECK(TimeLeftOf(step.observation) == doctest::Approx(expected[k]));
    CHECK(step.truncated == (k == 3));
  }
  // A new episode starts the clock again.
  CHECK(TimeLeftOf(env->Reset(4).observation) == 1.0f);
}

TEST_CASE("observe_time keeps the cell's episodes and its other observations") {
  EnvConfig plain;
  plain.name = "pendulum";
  EnvConfig timed = plain;
  timed.observe_time = true;
  std::unique_ptr<Env> a = MakeEnv(plain);
  std::unique_ptr<Env> b = MakeEnv(timed);
  const Observation first_a = a->Reset(9).observation;
  const Observation first_b = b->Reset(9).observation;
  CHECK(first_a.at("state").f32 == first_b.at("state").f32);
  for (int k = 0; k < 5; ++k) {
    StepResult sa = a->Step({-0.3f});
    StepResult sb = b->Step({-0.3f});
    CHECK(sa.observation.at("state").f32 == sb.observation.at("state").f32);
    CHECK(sa.reward == sb.reward);
  }
  // Actions are still checked and clipped by the wrapper.
  b->Step({7.0f});
  CHECK(b->clipped_action_count() == 1);
  testing::ExpectError([&] { b->Step({1.0f, 2.0f}); }, ExitCode::kUsage, "action");
}

TEST_CASE("the env_args of a time-aware cell re-create it") {
  EnvConfig config;
  config.name = "pendulum";
  config.observe_time = true;
  std::unique_ptr<Env> env = MakeEnv(config);
  std::unique_ptr<Env> again = MakeEnvFromArgs(env->spec().env_args);
  REQUIRE(again->spec().observations.size() == 2);
  CHECK(again->spec().observations.back().key == "time_left");
  // Data from before the setting existed (no observe_time key) loads as off.
  nlohmann::json old_args = env->spec().env_args;
  old_args["env_kwargs"].erase("observe_time");
  CHECK(MakeEnvFromArgs(old_args)->spec().observations.size() == 1);
}

TEST_CASE("a time-aware cell keeps its state renderer - time_left is the current step's") {
  EnvConfig config;
  config.name = "door";
  config.image_size = 32;
  config.observe_time = true;
  std::unique_ptr<Env> env = MakeEnv(config);
  StateRenderer* renderer = AsStateRenderer(*env);
  REQUIRE(renderer != nullptr);
  env->Reset(1);
  env->Step({0.0f, 0.0f, 0.0f});
  const Observation shown = renderer->RenderState({{"door_angle", 0.5}});
  CHECK(shown.at("image").shape == std::vector<int64_t>{32, 32, 3});
  CHECK(TimeLeftOf(shown) == doctest::Approx(49.0f / 50.0f));
  CHECK(renderer->RenderPicture(64).shape == std::vector<int64_t>{64, 64, 3});
  // An env without one (a robot) stays without one.
  std::unique_ptr<Env> timed = MakeTimeLeftEnv(std::make_unique<NoPicturesEnv>());
  CHECK(AsStateRenderer(*timed) == nullptr);
  CHECK(TimeLeftOf(timed->Reset(0).observation) == 1.0f);
  CHECK(TimeLeftOf(timed->Step({0.0f}).observation) == 0.5f);
}

TEST_CASE("an env that already observes time_left cannot be wrapped again") {
  EnvConfig config;
  config.name = "pendulum";
  config.observe_time = true;
  testing::ExpectError([&] { TimeLeftEnv twice(MakeEnv(config)); }, ExitCode::kUsage,
                       "pendulum already observes 'time_left'");
}

TEST_CASE("observe_time is off by default and a YAML key") {
  EnvConfig config;
  CHECK_FALSE(config.observe_time);
  ConfigFromYaml("name: push\nobserve_time: true\n", "test.yaml", config);
  CHECK(config.observe_time);
}

}  // namespace perpetua
