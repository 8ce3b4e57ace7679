// rl-data inspect warns when episodes repeat an earlier episode's reset seed:
// the same collect command run twice into one folder collects the same
// episodes again.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace perpetua {
namespace {

using testing::RunProcess;
using testing::ToolPath;

void Collect(const std::string& dir, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-collect"), "--env", "pendulum", "--cell.max-episode-steps", "3",
                                   "--policy", "random", "--episodes", "4", "--threads", "1", "--out", dir};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto r = RunProcess(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

nlohmann::json Inspect(const std::string& dir, std::string* table) {
  const auto r = RunProcess({ToolPath("rl-data"), "inspect", dir});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  *table = r.err;
  return nlohmann::json::parse(r.out);
}

TEST_CASE("rl-data inspect reports episodes that repeat an earlier reset seed") {
  testing::TempDir tmp;
  std::string table;
  Collect(tmp / "once", {});
  Collect(tmp / "once", {"--first-episode", "4"});  // continues the indices: new seeds
  CHECK(Inspect(tmp / "once", &table)["repeated_seeds"] == 0);
  CHECK(table.find("repeat the reset seed") == std::string::npos);
  Collect(tmp / "twice", {});
  Collect(tmp / "twice", {});  // the same command again: the same 4 episodes
  const nlohmann::json report = Inspect(tmp / "twice", &table);
  CHECK(report["repeated_seeds"] == 4);
  CHECK(report["valid"] == true);  // a warning, not damage
  CHECK(table.find("warning: 4 episodes repeat the reset seed of an earlier one") != std::string::npos);
  Collect(tmp / "other", {"--seed", "5"});
  Collect(tmp / "other", {"--seed", "6"});
  CHECK(Inspect(tmp / "other", &table)["repeated_seeds"] == 0);
}

}  // namespace
}  // namespace perpetua
