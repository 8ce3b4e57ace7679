// rl-train inspect: what a checkpoint holds, from the real rl-train binary on
// a real (tiny) SAC run; the config it prints starts a run again; damaged and
// foreign files are one line and exit 3.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::RunProcess;
using testing::ToolPath;

TEST_CASE("rl-train inspect describes a checkpoint and refuses damaged ones") {
  testing::TempDir tmp;
  const std::string data = tmp / "data", run = tmp / "run";
  testing::ProcessResult r = RunProcess({ToolPath("rl-collect"), "--env", "pendulum", "--cell.max-episode-steps",
                                         "20", "--policy", "random", "--episodes", "2", "--seed", "1", "--threads",
                                         "1", "--out", data});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::vector<std::string> sac = {ToolPath("rl-train"), "sac", "--batch-size", "8", "--threads", "1",
                                        "--sac.network.hidden", "8,8", "--seed", "5", "--data", data};
  std::vector<std::string> train = sac;
  train.insert(train.end(), {"--out", run, "--steps", "3"});
  r = RunProcess(train);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  r = RunProcess({ToolPath("rl-train"), "inspect", run + "/latest.ckpt"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json report = nlohmann::json::parse(r.out);
  CHECK(report["algorithm"] == "sac");
  CHECK(report["step"] == 3);
  CHECK(report["seed"] == 5);
  CHECK(report["verified"] == true);
  CHECK(report["reward"] == "env");
  CHECK(report["data"] == nlohmann::json::array({data}));
  CHECK(report["max_episode_steps"] == 20);
  REQUIRE(report["observations"].size() == 1);
  CHECK(report["observations"][0]["key"] == "state");
  CHECK(report["action"]["names"].size() == 1);
  CHECK(report["bytes"].get<int64_t>() == static_cast<int64_t>(testing::ReadFile(run + "/latest.ckpt").size()));
  CHECK(!report["blobs"].empty());
  CHECK(report["metadata"].contains("sac_network"));
  CHECK_FALSE(report["metadata"].contains("config_yaml"));  // --yaml prints it
  CHECK(r.err.find("algorithm   sac, step 3, seed 5") != std::string::npos);
  CHECK(r.err.find("observes    state float32 [3]") != std::string::npos);

  // The recorded config starts the same run again.
  r = RunProcess({ToolPath("rl-train"), "inspect", run + "/latest.ckpt", "--yaml"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("seed: 5") != std::string::npos);
  testing::WriteFile(tmp / "config.yaml", r.out);
  r = RunProcess({ToolPath("rl-train"), "sac", "--config", tmp / "config.yaml", "--out", tmp / "again", "--steps",
                  "3"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = RunProcess({ToolPath("rl-train"), "inspect", tmp / "again/latest.ckpt"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["seed"] == 5);

  // Damaged, foreign, missing: one line, exit 3; no path: exit 2.
  const std::string bytes = testing::ReadFile(run + "/latest.ckpt");
  testing::WriteFile(tmp / "truncated.ckpt", bytes.substr(0, bytes.size() / 2));
  std::string flipped = bytes;
  flipped[flipped.size() - 20] ^= 0x10;
  testing::WriteFile(tmp / "flipped.ckpt", flipped);
  testing::WriteFile(tmp / "notes.ckpt", "not a checkpoint\n");
  for (const std::string name : {"truncated.ckpt", "flipped.ckpt", "notes.ckpt", "missing.ckpt"}) {
    CAPTURE(name);
    r = RunProcess({ToolPath("rl-train"), "inspect", tmp / name});
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.find(tmp / name) != std::string::npos);
    CHECK(testing::Lines(r.err).size() == 1);
  }
  r = RunProcess({ToolPath("rl-train"), "inspect"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("path is required") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
