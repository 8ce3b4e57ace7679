#include "sim/grasp_cell.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "env_factory/make_env.h"
#include "policy/random_policy.h"
#include "policy/scripted_policy.h"
#include "sim_test_util.h"
#include "support/test_support.h"

namespace perpetua::sim {
namespace {

std::unique_ptr<Env> MakeGrasp(const std::string& objects = "train", int max_objects = 3) {
  EnvConfig config;
  config.name = "grasp";
  config.objects = objects;
  config.max_objects = max_objects;
  return MakeEnv(config);
}

// One episode of `policy`: the fingerprint of every frame and the rewards.
struct Trace {
  uint64_t frames = 0;
  std::vector<double> rewards;
  std::vector<float> proprio;
  double max_pose_error = 0;  // proprio's gripper x, y, yaw against info.gripper
  bool success = false;
  bool terminated = false;
  std::vector<std::string> failures;  // each step's info "failure" ("" where it names none)
};

Trace RunEpisode(Env& env, Policy& policy, uint64_t seed, int max_steps = 100) {
  Trace trace;
  ResetResult reset = env.Reset(seed);
  policy.BeginEpisode(seed);
  Observation observation = reset.observation;
  nlohmann::json info = reset.info;
  trace.frames = testing::Fingerprint(observation.at("image"));
  for (int t = 0; t < max_steps; ++t) {
    StepResult step = env.Step(policy.Act(observation, info));
    observation = step.observation;
    info = step.info;
    trace.frames = testing::Fingerprint(observation.at("image"), trace.frames);
    trace.rewards.push_back(step.reward);
    trace.failures.push_back(info.value("failure", std::string()));
    const std::vector<float>& proprio = observation.at("proprio").f32;
    for (float v : proprio) trace.proprio.push_back(v);
    const nlohmann::json& gripper = info.at("gripper");
    const double truth[3] = {gripper.at("pos")[0].get<double>(), gripper.at("pos")[1].get<double>(),
                             gripper.at("yaw").get<double>()};
    for (int k = 0; k < 3; ++k) {
      trace.max_pose_error = std::max(trace.max_pose_error, std::abs(double(proprio.at(2 + k)) - truth[k]));
    }
    if (step.terminated || step.truncated) {
      trace.success = info.at("success").get<bool>();
      trace.terminated = step.terminated;
      break;
    }
  }
  return trace;
}

}  // namespace

TEST_CASE("grasp spec lists image and proprio observations and six bounded actions") {
  std::unique_ptr<Env> env = MakeGrasp();
  const EnvSpec& spec = env->spec();
  CHECK(spec.name == "grasp");
  REQUIRE(spec.observations.size() == 2);
  CHECK(spec.observations[0].key == "image");
  CHECK(spec.observations[0].dtype == DType::kUint8);
  CHECK(spec.observations[0].shape == std::vector<int64_t>{64, 64, 3});
  CHECK(spec.observations[1].key == "proprio");
  CHECK(spec.observations[1].shape == std::vector<int64_t>{5});
  CHECK(spec.action.dim() == 6);
  CHECK(spec.action.names == std::vector<std::string>{"dx", "dy", "dz", "dyaw", "gripper",
                                                       "terminate"});
  CHECK(spec.max_episode_steps == 20);
  ResetResult reset = env->Reset(3);
  CHECK(reset.observation.at("image").shape == std::vector<int64_t>{64, 64, 3});
  CHECK(reset.observation.at("image").Consistent());
  CHECK(reset.info.at("object_ids").size() >= 1);
  CHECK(reset.info.at("object_ids").size() <= 3);
  CHECK_FALSE(reset.info.at("success").get<bool>());
  // The ground truth stays out of the observation.
  CHECK(reset.observation.size() == 2);
}

TEST_CASE("same seed gives the same frames and rewards and another seed differs") {
  std::unique_ptr<Env> a = MakeGrasp(), b = MakeGrasp();
  std::unique_ptr<Policy> pa = MakeRandomPolicy(a->spec(), 11), pb = MakeRandomPolicy(b->spec(), 11);
  const Trace first = RunEpisode(*a, *pa, 5, 6), second = RunEpisode(*b, *pb, 5, 6);
  CHECK(first.frames == second.frames);
  CHECK(first.rewards == second.rewards);
  CHECK(first.proprio == second.proprio);
  const Trace other = RunEpisode(*a, *pa, 6, 6);
  CHECK(other.frames != first.frames);
  // Re-running seed 5 on the env that ran seed 6 reproduces it exactly.
  CHECK(RunEpisode(*a, *pa, 5, 6).frames == first.frames);
}

TEST_CASE("an episode does not depend on the episodes the cell ran before it") {
  // rl-eval and rl-collect hand episodes to whichever worker is free, so a
  // cell's earlier episodes differ between runs. With 8 slots, earlier
  // episodes fill slots that a later one leaves empty: nothing of those
  // objects (masses, sizes) may reach the later episode's physics.
  std::unique_ptr<Env> fresh = MakeGrasp("heldout", 8), used = MakeGrasp("heldout", 8);
  std::unique_ptr<Policy> scripted = MakeScriptedPolicy(fresh->spec());
  auto* fresh_cell = dynamic_cast<SimCell*>(fresh.get());
  auto* used_cell = dynamic_cast<SimCell*>(used.get());
  const auto state = [](const SimCell& cell) {
    const mjModel* m = cell.model();
    const mjData* d = cell.data();
    return std::vector<mjtNum>(d->qpos, d->qpos + m->nq);
  };
  int few_objects = 0;
  for (uint64_t seed = 20; seed < 40 && few_objects < 3; ++seed) {
    for (uint64_t before = 100; before < 103; ++before) RunEpisode(*used, *scripted, before + seed);
    const Trace a = RunEpisode(*fresh, *scripted, seed);
    const std::vector<mjtNum> after_fresh = state(*fresh_cell);
    const Trace b = RunEpisode(*used, *scripted, seed);
    CAPTURE(seed);
    CHECK(state(*used_cell) == after_fresh);
    CHECK(b.rewards == a.rewards);
    CHECK(b.frames == a.frames);
    fresh = MakeGrasp("heldout", 8);  // the next seed on a fresh cell again
    fresh_cell = dynamic_cast<SimCell*>(fresh.get());
    few_objects += fresh->Reset(seed).info.at("object_ids").size() < 4;
  }
  CHECK(few_objects == 3);
}

TEST_CASE("golden scripted grasp trajectory") {
  std::unique_ptr<Env> env = MakeGrasp("heldout");
  std::unique_ptr<Policy> policy = MakeScriptedPolicy(env->spec());
  const Trace trace = RunEpisode(*env, *policy, 7);
  // Height and closure (proprio 0 and 1) as pinned before x, y and yaw joined them.
  double proprio_sum = 0;
  for (size_t i = 0; i < trace.proprio.size(); ++i) {
    if (i % 5 < 2) proprio_sum += trace.proprio[i];
  }
  // x, y and yaw are the gripper's pose, as the ground truth reports it (float32).
  CHECK(trace.max_pose_error < 1e-6);
  // Pinned again when the cell moved to the implicit integrator (docs/sim.md#physics-blow-ups).
  CHECK(trace.rewards.size() == 9u);
  CHECK(trace.success);
  CHECK(trace.terminated);
  CHECK(trace.rewards.back() == 1.0);
  for (size_t i = 0; i + 1 < trace.rewards.size(); ++i) CHECK(trace.rewards[i] == -0.02);
  CHECK(proprio_sum == doctest::Approx(2.2248337276032544).epsilon(1e-9));
  // Frames are pinned for Mesa's CPU rasteriser (bit-exact on one machine);
  // GPU drivers rasterise differently.
  auto* cell = dynamic_cast<SimCell*>(env.get());
  if (cell->gl_renderer().find("llvmpipe") != std::string::npos) {
    CHECK(trace.frames == 8112343487818154801ULL);
  }
}

TEST_CASE("without the proprio pose the gripper's x, y and yaw read 0 and nothing else changes") {
  EnvConfig config;
  config.name = "grasp";
  config.objects = "heldout";
  config.proprio_pose = false;
  std::unique_ptr<Env> blind = MakeEnv(config);
  CHECK(blind->spec().env_args.at("env_kwargs").at("proprio_pose") == false);
  CHECK(EnvConfigFromArgs(blind->spec().env_args).proprio_pose == false);
  std::unique_ptr<Env> full = MakeGrasp("heldout");
  CHECK(full->spec().env_args.at("env_kwargs").at("proprio_pose") == true);
  std::unique_ptr<Policy> policy = MakeScriptedPolicy(full->spec());
  const Trace with_pose = RunEpisode(*full, *policy, 7);
  const Trace without = RunEpisode(*blind, *policy, 7);
  REQUIRE(without.proprio.size() == with_pose.proprio.size());
  double pose_sum = 0;
  for (size_t i = 0; i < without.proprio.size(); ++i) {
    if (i % 5 < 2) {
      CHECK(without.proprio[i] == with_pose.proprio[i]);  // height and closure
    } else {
      CHECK(without.proprio[i] == 0.0f);
      pose_sum += std::abs(with_pose.proprio[i]);
    }
  }
  CHECK(pose_sum > 0.01);  // the full cell's pose is not 0 by chance
  CHECK(without.frames == with_pose.frames);
  CHECK(without.rewards == with_pose.rewards);
}

TEST_CASE("the wrist camera adds an image that moves and turns with the gripper and changes nothing else") {
  EnvConfig config;
  config.name = "grasp";
  config.wrist_camera = true;
  std::unique_ptr<Env> wrist = MakeEnv(config);
  std::unique_ptr<Env> plain = MakeGrasp();
  const auto has_key = [](const EnvSpec& spec, const std::string& key) {
    return std::any_of(spec.observations.begin(), spec.observations.end(),
                       [&](const ObservationSpec& o) { return o.key == key; });
  };
  REQUIRE(has_key(wrist->spec(), kWristImageKey));
  CHECK_FALSE(has_key(plain->spec(), kWristImageKey));
  for (const ObservationSpec& o : wrist->spec().observations) {
    if (o.key == kWristImageKey) CHECK(o.shape == std::vector<int64_t>{64, 64, 3});
  }
  CHECK(wrist->spec().env_args.at("env_kwargs").at("wrist_camera") == true);
  CHECK(EnvConfigFromArgs(wrist->spec().env_args).wrist_camera);
  CHECK(plain->spec().env_args.at("env_kwargs").at("wrist_camera") == false);

  // The shoulder image, proprio and rewards are those of the cell without it.
  std::unique_ptr<Policy> policy = MakeScriptedPolicy(plain->spec());
  const Trace with = RunEpisode(*wrist, *policy, 7);
  const Trace without = RunEpisode(*plain, *policy, 7);
  CHECK(with.frames == without.frames);
  CHECK(with.proprio == without.proprio);
  CHECK(with.rewards == without.rewards);

  // The wrist image shows a scene (not one colour), and it changes when the
  // gripper only turns or only moves, where the fixed camera's view of the
  // bin stays.
  const Observation start = wrist->Reset(3).observation;
  const Array& first = start.at(kWristImageKey);
  REQUIRE(first.u8.size() == 64u * 64u * 3u);
  CHECK(std::set<uint8_t>(first.u8.begin(), first.u8.end()).size() > 20);
  const Observation turned = wrist->Step({0, 0, 0, 1, -1, -1}).observation;
  CHECK(testing::Fingerprint(turned.at(kWristImageKey)) != testing::Fingerprint(first));
  const Observation moved = wrist->Step({1, 0, 0, 0, -1, -1}).observation;
  CHECK(testing::Fingerprint(moved.at(kWristImageKey)) != testing::Fingerprint(turned.at(kWristImageKey)));
}

TEST_CASE("actions out of bounds are clipped and counted and bad actions rejected") {
  std::unique_ptr<Env> env = MakeGrasp();
  env->Reset(1);
  env->Step({2.0f, -3.0f, 0.0f, 0.0f, -1.0f, -1.0f});
  CHECK(env->clipped_action_count() == 2);
  testing::ExpectError([&] { env->Step({NAN, 0, 0, 0, 0, -1}); }, ExitCode::kUsage,
                       "action component 0 (dx) is not finite");
  testing::ExpectError([&] { env->Step({0, 0, 0, 0, 0, INFINITY}); }, ExitCode::kUsage,
                       "action component 5 (terminate) is not finite");
  testing::ExpectError([&] { env->Step({0, 0, 0}); }, ExitCode::kUsage,
                       "action has 3 components, the cell expects 6");
  // The episode goes on after a rejected action.
  StepResult step = env->Step({0, 0, 0, 0, -1, -1});
  CHECK_FALSE(step.terminated);
}

TEST_CASE("the time limit truncates without a lift and terminate ends the episode") {
  std::unique_ptr<Env> env = MakeGrasp();
  env->Reset(2);
  StepResult step;
  for (int t = 0; t < 20; ++t) {
    step = env->Step({0, 0, 0.2f, 0, -1, -1});
    CHECK(step.reward == -0.02);
    if (t < 19) CHECK_FALSE(step.truncated);
  }
  CHECK(step.truncated);
  CHECK_FALSE(step.terminated);
  CHECK_FALSE(step.info.at("success").get<bool>());
  env->Reset(2);
  step = env->Step({0, 0, 0, 0, -1, 1});  // terminate high above the bin: nothing held
  CHECK(step.terminated);
  CHECK_FALSE(step.info.at("success").get<bool>());
  CHECK(step.reward == -0.02);
}

TEST_CASE("a failed attempt says whether the fingers closed above, beside or on an object") {
  std::unique_ptr<Env> env = MakeGrasp("train", 1);
  // High above the bin: closed on nothing, above the object.
  env->Reset(3);
  StepResult step = env->Step({0, 0, 0, 0, -1, 1});
  REQUIRE(step.terminated);
  CHECK(step.info.at("failure") == "closed-above");
  // Down at the table on the far side of the bin from the object: beside it.
  const ResetResult reset = env->Reset(3);
  const nlohmann::json& pos = reset.info.at("objects").at(0).at("pos");
  const float away_x = pos[0].get<double>() > 0 ? -1.0f : 1.0f, away_y = pos[1].get<double>() > 0 ? -1.0f : 1.0f;
  // (Two steps across, not to the bin's wall, whose slope would hold the fingers up.)
  for (int t = 0; t < 9; ++t) step = env->Step({t < 2 ? away_x : 0, t < 2 ? away_y : 0, -1, 0, -1, -1});
  REQUIRE_FALSE(step.terminated);
  const nlohmann::json& gripper = step.info.at("gripper");
  REQUIRE(std::hypot(gripper.at("pos")[0].get<double>() - pos[0].get<double>(),
                     gripper.at("pos")[1].get<double>() - pos[1].get<double>()) > 0.08);
  REQUIRE(gripper.at("pos")[2].get<double>() < 0.01);
  step = env->Step({0, 0, 0, 0, -1, 1});
  CHECK(step.info.at("failure") == "closed-beside");
  // Random episodes: every failed attempt names one of the three reasons, and
  // nothing else (a success, the time limit) names any.
  std::unique_ptr<Policy> random = MakeRandomPolicy(env->spec(), 5);
  int attempts = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    const Trace trace = RunEpisode(*env, *random, seed);
    const std::string& reason = trace.failures.back();
    for (size_t t = 0; t + 1 < trace.failures.size(); ++t) CHECK(trace.failures[t].empty());
    if (trace.terminated && !trace.success) {
      ++attempts;
      CHECK((reason == "closed-above" || reason == "closed-beside" || reason == "slipped"));
    } else {
      CHECK(reason.empty());
    }
  }
  CHECK(attempts > 5);
}

TEST_CASE("a successful grasp holds the object by finger contacts alone") {
  std::unique_ptr<Env> env = MakeGrasp("train", 1);
  std::unique_ptr<Policy> policy = MakeScriptedPolicy(env->spec());
  auto* cell = dynamic_cast<SimCell*>(env.get());
  int successes = 0;
  for (uint64_t seed = 0; seed < 4 && successes == 0; ++seed) {
    const Trace trace = RunEpisode(*env, *policy, seed);
    if (!trace.success) continue;
    ++successes;
    CHECK(trace.rewards.back() == 1.0);
    // Every contact of the lifted object is with a finger (no welds exist
    // in the model, and nothing else touches it in the air).
    const mjModel* m = cell->model();
    const mjData* d = cell->data();
    CHECK(m->neq == 0);
    const int object_body = mj_name2id(m, mjOBJ_BODY, "obj0");
    const int finger_l = mj_name2id(m, mjOBJ_BODY, "finger_l");
    const int finger_r = mj_name2id(m, mjOBJ_BODY, "finger_r");
    int finger_contacts = 0;
    for (int c = 0; c < d->ncon; ++c) {
      const int b1 = m->geom_bodyid[d->contact[c].geom1], b2 = m->geom_bodyid[d->contact[c].geom2];
      if (b1 != object_body && b2 != object_body) continue;
      const int other = b1 == object_body ? b2 : b1;
      CHECK((other == finger_l || other == finger_r));
      ++finger_contacts;
    }
    CHECK(finger_contacts >= 2);
    CHECK(d->xipos[3 * object_body + 2] > 0.10);
  }
  CHECK(successes == 1);
}

TEST_CASE("reset options place chosen objects and unknown options are usage errors") {
  std::unique_ptr<Env> env = MakeGrasp();
  ResetResult reset = env->Reset(4, {{"object_ids", {1005, 12}}});
  CHECK(reset.info.at("object_ids") == nlohmann::json({1005, 12}));
  CHECK(reset.info.at("objects").size() == 2);
  testing::ExpectError([&] { env->Reset(4, {{"object_id", {3}}}); }, ExitCode::kUsage,
                       "grasp reset options: unknown key 'object_id' (did you mean 'object_ids'?)");
  testing::ExpectError([&] { env->Reset(4, {{"object_ids", {3, 4, 5, 6}}}); }, ExitCode::kUsage,
                       "object_ids must list 1..3 ids");
  testing::ExpectError([&] { env->Reset(4, {{"object_ids", {99999}}}); }, ExitCode::kUsage,
                       "object id 99999");
}

TEST_CASE("the object set option draws only from that set") {
  std::unique_ptr<Env> heldout = MakeGrasp("heldout"), listed = MakeGrasp("7,8", 2);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    for (const auto& id : heldout->Reset(seed).info.at("object_ids")) {
      CHECK(IsHeldoutObject(id.get<int64_t>()));
    }
    for (const auto& id : listed->Reset(seed).info.at("object_ids")) {
      const int64_t value = id.get<int64_t>();
      CHECK((value == 7 || value == 8));
    }
  }
}

TEST_CASE("domain randomisation changes the scene and stays reproducible") {
  EnvConfig plain_config;
  EnvConfig random_config;
  random_config.randomize.lighting = true;
  random_config.randomize.colors = true;
  random_config.randomize.camera = true;
  random_config.randomize.physics = true;
  random_config.randomize.textures = true;
  std::unique_ptr<Env> plain = MakeEnv(plain_config), randomized = MakeEnv(random_config);
  std::unique_ptr<Env> again = MakeEnv(random_config);
  const uint64_t a = testing::Fingerprint(plain->Reset(9).observation.at("image"));
  const uint64_t b = testing::Fingerprint(randomized->Reset(9).observation.at("image"));
  const uint64_t c = testing::Fingerprint(again->Reset(9).observation.at("image"));
  CHECK(a != b);
  CHECK(b == c);
  // Off again: the nominal scene comes back exactly.
  CHECK(testing::Fingerprint(plain->Reset(9).observation.at("image")) == a);
}

TEST_CASE("object colours drawn over every hue change only the colours") {
  EnvConfig plain_config;
  EnvConfig colors_config;
  colors_config.randomize.object_colors = true;
  std::unique_ptr<Env> plain = MakeEnv(plain_config), colored = MakeEnv(colors_config);
  std::unique_ptr<Env> again = MakeEnv(colors_config);
  int differ = 0;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const ResetResult a = plain->Reset(seed), b = colored->Reset(seed), c = again->Reset(seed);
    differ += testing::Fingerprint(a.observation.at("image")) != testing::Fingerprint(b.observation.at("image"));
    CHECK(testing::Fingerprint(b.observation.at("image")) == testing::Fingerprint(c.observation.at("image")));
    // The same objects at the same places: the physics never sees a colour.
    CHECK(a.info.at("objects").dump() == b.info.at("objects").dump());
    CHECK(a.observation.at("proprio").f32 == b.observation.at("proprio").f32);
  }
  CHECK(differ == 4);
}

TEST_CASE("envs made on one thread render concurrently on worker threads") {
  std::unique_ptr<Env> reference = MakeGrasp();
  std::unique_ptr<Policy> policy = MakeRandomPolicy(reference->spec(), 3);
  const uint64_t expected_a = RunEpisode(*reference, *policy, 21, 5).frames;
  const uint64_t expected_b = RunEpisode(*reference, *policy, 22, 5).frames;
  dynamic_cast<SimCell*>(reference.get())->ReleaseRenderThread();
  std::unique_ptr<Env> a = MakeGrasp(), b = MakeGrasp();
  uint64_t got_a = 0, got_b = 0;
  std::thread ta([&] {
    std::unique_ptr<Policy> p = MakeRandomPolicy(a->spec(), 3);
    got_a = RunEpisode(*a, *p, 21, 5).frames;
  });
  std::thread tb([&] {
    std::unique_ptr<Policy> p = MakeRandomPolicy(b->spec(), 3);
    got_b = RunEpisode(*b, *p, 22, 5).frames;
  });
  ta.join();
  tb.join();
  CHECK(got_a == expected_a);
  CHECK(got_b == expected_b);
}

TEST_CASE("RenderState shows requested objects and leaves the episode untouched") {
  std::unique_ptr<Env> env = MakeGrasp();
  ResetResult reset = env->Reset(12);
  StateRenderer* renderer = AsStateRenderer(*env);
  REQUIRE(renderer != nullptr);
  const Observation shown = renderer->RenderState({{"object_ids", {1100}}, {"seed", 3}});
  CHECK(testing::Fingerprint(shown.at("image")) !=
        testing::Fingerprint(reset.observation.at("image")));
  // The episode continues as if nothing happened.
  std::unique_ptr<Env> twin = MakeGrasp();
  twin->Reset(12);
  const std::vector<float> action = {0.3f, 0.1f, -0.5f, 0.2f, -1, -1};
  CHECK(testing::Fingerprint(env->Step(action).observation.at("image")) ==
        testing::Fingerprint(twin->Step(action).observation.at("image")));
  testing::ExpectError([&] { renderer->RenderState({{"door_angle", 1}}); }, ExitCode::kUsage,
                       "grasp state: unknown key 'door_angle'");
  const Array picture = renderer->RenderPicture(200);
  CHECK(picture.shape == std::vector<int64_t>{200, 200, 3});
  testing::ExpectError([&] { renderer->RenderPicture(4000); }, ExitCode::kUsage,
                       "picture size 4000 is outside 16..1024");
}

TEST_CASE("the scripted policy grasps held-out objects and the random one rarely does") {
  std::unique_ptr<Env> env = MakeGrasp("heldout");
  std::unique_ptr<Policy> scripted = MakeScriptedPolicy(env->spec());
  std::unique_ptr<Policy> random = MakeRandomPolicy(env->spec(), 1);
  CHECK(scripted->id() == "scripted:grasp");
  CHECK(random->id() == "random");
  int scripted_successes = 0, random_successes = 0;
  for (uint64_t seed = 100; seed < 115; ++seed) {
    scripted_successes += RunEpisode(*env, *scripted, seed).success ? 1 : 0;
    random_successes += RunEpisode(*env, *random, seed).success ? 1 : 0;
  }
  CHECK(scripted_successes >= 10);  // ~85% expected (bench_env measures it on 200)
  CHECK(random_successes <= 3);
}

}  // namespace perpetua::sim

namespace perpetua::sim {

using testing::ScopedEnvVar;

mjModel* MutableModel(Env& env) {
  return const_cast<mjModel*>(dynamic_cast<SimCell&>(env).model());
}

TEST_CASE("a blow-up ends the episode truncated and flagged, without teleporting") {
  std::unique_ptr<Env> env = MakeGrasp();
  const ResetResult reset = env->Reset(11);
  const StepResult first = env->Step({0.5f, 0, -0.5f, 0, -1, -1});
  REQUIRE_FALSE(first.info.contains("unstable"));
  // Absurd gravity makes accelerations explode; MuJoCo resets the state.
  const double gravity = MutableModel(*env)->opt.gravity[2];
  MutableModel(*env)->opt.gravity[2] = -1e12;
  const StepResult blown = env->Step({0, 0, 0, 0, -1, 1});  // a terminate: would lift
  MutableModel(*env)->opt.gravity[2] = gravity;
  CHECK(blown.truncated);
  CHECK_FALSE(blown.terminated);
  CHECK(blown.info.at("success") == false);
  CHECK(blown.reward == doctest::Approx(-0.02));
  REQUIRE(blown.info.contains("unstable"));
  const nlohmann::json& unstable = blown.info.at("unstable");
  CHECK(unstable.at("seed") == 11);
  CHECK(unstable.at("step") == 1);
  CHECK(unstable.at("dof").get<int>() >= 0);
  CHECK(unstable.at("time").get<double>() == doctest::Approx(0.6 + 0.1 + 0.005));  // settle, step 0, 1 substep
  // The state is the one before the blown-up step, not MuJoCo's reset pose.
  CHECK(blown.info.at("gripper").at("pos") == first.info.at("gripper").at("pos"));
  for (int k = 0; k < 3; ++k) {  // info positions lag the state by one substep: within 1 mm
    CHECK(std::abs(blown.info.at("objects").at(0).at("pos").at(k).get<double>() -
                   first.info.at("objects").at(0).at("pos").at(k).get<double>()) < 1e-3);
  }
  CHECK(dynamic_cast<SimCell&>(*env).unstable());
  // The next episode is a normal one, identical to a fresh cell's.
  const ResetResult again = env->Reset(11);
  CHECK_FALSE(dynamic_cast<SimCell&>(*env).unstable());
  CHECK(testing::Fingerprint(again.observation.at("image")) ==
        testing::Fingerprint(reset.observation.at("image")));
  CHECK_FALSE(env->Step({0.5f, 0, -0.5f, 0, -1, -1}).info.contains("unstable"));
}

TEST_CASE("a blow-up while a reset settles ends the episode at its first step") {
  // Every Reset starts from the cell's nominal model, so the fault cannot be
  // an edit of the model made before it: PERPETUA_SIM_BLOWUP=reset forces it.
  ScopedEnvVar fault("PERPETUA_SIM_BLOWUP", "reset:2");
  std::unique_ptr<Env> env = MakeGrasp();
  const ResetResult reset = env->Reset(4);
  CHECK(reset.info.at("objects").size() >= 1);
  const StepResult step = env->Step({0, 0, 0, 0, -1, -1});
  CHECK(step.truncated);
  CHECK_FALSE(step.terminated);
  REQUIRE(step.info.contains("unstable"));
  CHECK(step.info.at("unstable").at("step") == -1);
  CHECK(step.info.at("unstable").at("seed") == 4);
  // Seed 5 is not a multiple of 2: a normal episode on the same cell.
  env->Reset(5);
  CHECK_FALSE(env->Step({0, 0, 0, 0, -1, -1}).info.contains("unstable"));
}

TEST_CASE("PERPETUA_SIM_BLOWUP forces a blow-up at one step of chosen seeds, and is checked") {
  {
    ScopedEnvVar fault("PERPETUA_SIM_BLOWUP", "1:2");
    std::unique_ptr<Env> env = MakeGrasp();
    for (uint64_t seed : {6, 7}) {
      env->Reset(seed);
      CHECK_FALSE(env->Step({0, 0, 0, 0, -1, -1}).info.contains("unstable"));
      const StepResult second = env->Step({0, 0, 0, 0, -1, -1});
      CHECK(second.info.contains("unstable") == (seed % 2 == 0));
      CHECK(second.truncated == (seed % 2 == 0));
    }
  }
  for (const char* bad : {"x", "1:0", "-1", "2:", ":3", "1:2:3", "reset:0", "Reset"}) {
    CAPTURE(bad);
    ScopedEnvVar fault("PERPETUA_SIM_BLOWUP", bad);
    testing::ExpectError([] { MakeGrasp(); }, ExitCode::kUsage,
                         std::string("PERPETUA_SIM_BLOWUP='") + bad + "': expected STEP[:PERIOD]");
  }
}

}  // namespace perpetua::sim
