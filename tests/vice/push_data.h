// Real push-cell data for the VICE tests: small images, short episodes, made
// by the real rl-collect binary.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace perpetua::testing {

// Push with 32x32 images and 12-step episodes.
inline const std::vector<std::string> kSmallPush = {"--env", "push", "--cell.image-size", "32",
                                                    "--cell.max-episode-steps", "12"};

// Collects `episodes` push episodes of `policy` (scripted, random) into `dir`.
inline void CollectPush(const std::string& dir, const std::string& policy, int episodes, int seed = 1,
                        const std::vector<std::string>& cell = kSmallPush) {
  std::vector<std::string> argv = {ToolPath("rl-collect"), "--policy", policy, "--episodes", std::to_string(episodes),
                                   "--seed", std::to_string(seed), "--threads", "1", "--out", dir};
  argv.insert(argv.end(), cell.begin(), cell.end());
  const ProcessResult r = RunProcess(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Writes the last frames of `count` successful scripted push episodes into `dir`
// through rl-label export (the user's workflow); `data` receives the episodes.
inline void MakeExamples(const std::string& data, const std::string& dir, int count) {
  CollectPush(data, "scripted", count + 10, 7, {"--env", "push", "--cell.image-size", "32"});
  const ProcessResult r = RunProcess({ToolPath("rl-label"), "export", "--data", data, "--out", dir, "--count",
                                      std::to_string(count)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == dir + "\n");
  REQUIRE(ListFiles(dir, ".png").size() == static_cast<size_t>(count));
}

}  // namespace perpetua::testing
