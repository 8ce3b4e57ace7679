#include "env_factory/make_env.h"

#include <doctest/doctest.h>

#include <cstdlib>

#include "../sim/sim_test_util.h"
#include "common/config.h"

namespace perpetua {

TEST_CASE("unknown env names are usage errors with a suggestion") {
  EnvConfig config;
  config.name = "grasq";
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage,
                       "unknown env 'grasq': expected grasp, push, door or pendulum (did you mean "
                       "'grasp'?)");
  config.name = "tcp://robot";
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage,
                       "robot address 'tcp://robot': missing host or port");
}

TEST_CASE("bad env settings are usage errors naming the setting") {
  EnvConfig config;
  config.image_size = 8;
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage, "image_size 8 is outside 16..1024");
  config = EnvConfig();
  config.max_objects = 0;
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage, "max_objects 0 is outside 1..8");
  config = EnvConfig();
  config.renderer = "egll";
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage,
                       "unknown renderer 'egll': expected auto, egl or osmesa (did you mean 'egl'?)");
  config = EnvConfig();
  config.objects = "training";
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage,
                       "objects: 'training' is not train, heldout or a comma-separated list");
}

TEST_CASE("an unknown PERPETUA_GL value is a usage error") {
  ::setenv("PERPETUA_GL", "vulkan", 1);
  EnvConfig config;
  testing::ExpectError([&] { MakeEnv(config); }, ExitCode::kUsage,
                       "unknown PERPETUA_GL='vulkan': expected auto, egl or osmesa");
  ::unsetenv("PERPETUA_GL");
}

TEST_CASE("env_args record the config and re-create the same cell") {
  EnvConfig config;
  config.name = "grasp";
  config.objects = "1001,1002";
  config.image_size = 48;
  config.max_objects = 2;
  config.randomize.lighting = true;
  std::unique_ptr<Env> env = MakeEnv(config);
  const nlohmann::json& args = env->spec().env_args;
  CHECK(args.at("env_name") == "grasp");
  CHECK(args.at("type") == "perpetua");
  CHECK(args.at("env_kwargs").at("objects") == "1001,1002");
  CHECK(args.at("env_kwargs").at("randomize.lighting") == true);
  CHECK(args.at("env_kwargs").at("max_episode_steps") == 20);
  std::unique_ptr<Env> again = MakeEnvFromArgs(args);
  CHECK(again->spec().env_args == args);
  CHECK(testing::Fingerprint(env->Reset(5).observation.at("image")) ==
        testing::Fingerprint(again->Reset(5).observation.at("image")));
  CHECK(again->spec().observations[0].shape == std::vector<int64_t>{48, 48, 3});
}

TEST_CASE("malformed env_args are bad-data errors") {
  testing::ExpectError([] { EnvConfigFromArgs(nlohmann::json::array()); }, ExitCode::kBadData,
                       "env_args must be an object with an env_kwargs object");
  nlohmann::json args = EnvConfigToArgs(EnvConfig());
  args["env_kwargs"]["image_sise"] = 64;
  testing::ExpectError([&] { EnvConfigFromArgs(args); }, ExitCode::kBadData,
                       "env_args: unknown key 'image_sise' (did you mean 'image_size'?)");
  args = EnvConfigToArgs(EnvConfig());
  args["env_kwargs"]["image_size"] = "big";
  testing::ExpectError([&] { EnvConfigFromArgs(args); }, ExitCode::kBadData,
                       "env_args: key 'image_size' has the wrong type");
}

TEST_CASE("EnvConfig loads from YAML with nested randomisation switches") {
  EnvConfig config;
  ConfigFromYaml("name: grasp\nobjects: heldout\nrandomize:\n  camera: true\n", "test.yaml", config);
  CHECK(config.objects == "heldout");
  CHECK(config.randomize.camera);
  CHECK_FALSE(config.randomize.lighting);
}

}  // namespace perpetua
