// The one env-spec JSON codec: round trip, and every malformed field named.
#include "env/env_spec_json.h"

#include <doctest/doctest.h>

#include "support/expect_error.h"

namespace perpetua {
namespace {

EnvSpec Spec() {
  EnvSpec spec;
  spec.name = "toy";
  spec.observations = {{"image", DType::kUint8, {4, 5, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low = {-1.0f, 0.0f};
  spec.action.high = {1.0f, 2.0f};
  spec.action.names = {"dx", "grip"};
  spec.max_episode_steps = 7;
  spec.control_hz = 12.5;
  spec.env_args = {{"env_name", "toy"}, {"env_kwargs", {{"image_size", 4}}}};
  return spec;
}

std::string Problem(const nlohmann::json& json) {
  EnvSpec spec;
  return ParseEnvSpecJson(json, &spec);
}

TEST_CASE("an env spec survives the JSON round trip") {
  const EnvSpec spec = Spec();
  const nlohmann::json json = EnvSpecToJson(spec);
  CHECK(json["observations"][0] == nlohmann::json{{"key", "image"}, {"dtype", "uint8"}, {"shape", {4, 5, 3}}});
  const EnvSpec back = EnvSpecFromJson(json, "x.ckpt");
  CHECK(back.name == spec.name);
  REQUIRE(back.observations.size() == 2);
  CHECK(back.observations[1].key == "proprio");
  CHECK(back.observations[1].dtype == DType::kFloat32);
  CHECK(back.observations[0].shape == spec.observations[0].shape);
  CHECK(back.action.low == spec.action.low);
  CHECK(back.action.high == spec.action.high);
  CHECK(back.action.names == spec.action.names);
  CHECK(back.max_episode_steps == 7);
  CHECK(back.control_hz == 12.5);
  CHECK(back.env_args == spec.env_args);
  CHECK(EnvSpecToJson(back) == json);
  // No env_args: an empty object both ways.
  EnvSpec bare = spec;
  bare.env_args = nullptr;
  CHECK(EnvSpecToJson(bare)["env_args"] == nlohmann::json::object());
}

TEST_CASE("malformed env specs are refused with the field named") {
  const nlohmann::json good = EnvSpecToJson(Spec());
  CHECK(Problem(good) == "");
  CHECK(Problem(nlohmann::json::array()) == "not a JSON object");
  nlohmann::json j = good;
  j.erase("name");
  CHECK(Problem(j) == "no 'name' field");
  j = good;
  j["observations"] = nlohmann::json::array();
  CHECK(Problem(j) == "'observations' is not a non-empty list");
  j = good;
  j["observations"][0]["dtype"] = "int16";
  CHECK(Problem(j) == "observation 'image' has dtype 'int16' (expected uint8 or float32)");
  j = good;
  j["observations"][0]["shape"] = {4, 0, 3};
  CHECK(Problem(j) == "observation 'image' has a bad shape [4,0,3]");
  j = good;
  j["observations"][1]["key"] = "image";
  CHECK(Problem(j) == "observation 'image' is listed twice");
  j = good;
  j["action"]["low"] = {1.0, 0.0};
  j["action"]["high"] = {0.0, 1.0};
  CHECK(Problem(j) == "action bound 0 is not a finite interval low <= high");
  j = good;
  j["action"]["names"] = {"a"};
  CHECK(Problem(j) == "action 'names' has 1 entries for 2 components");
  j = good;
  j["max_episode_steps"] = 2.5;
  CHECK(Problem(j) == "'max_episode_steps' is not an integer in 1..1e8");
  j = good;
  j["control_hz"] = -1;
  CHECK(Problem(j) == "'control_hz' is outside 0..10000");
  j = good;
  j["env_args"] = "grasp";
  CHECK(Problem(j) == "'env_args' is not an object");
  j = good;
  j.erase("action");
  testing::ExpectError([&] { EnvSpecFromJson(j, "run/latest.ckpt"); }, ExitCode::kBadData,
                       "run/latest.ckpt: malformed environment spec: no 'action' field");
}

}  // namespace
}  // namespace perpetua
