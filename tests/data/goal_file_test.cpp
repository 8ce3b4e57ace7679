// Goal files (data/goal_file.h): a round trip, the layout checks on write,
// and every way a file on disk can be wrong.
#include "data/goal_file.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

GoalSet Goals(int64_t n, int64_t side = 8, int64_t latent = 3) {
  GoalSet goals;
  goals.images = Array::Zeros(DType::kUint8, {n, side, side, 3});
  for (size_t i = 0; i < goals.images.u8.size(); ++i) goals.images.u8[i] = static_cast<uint8_t>(i * 7);
  goals.latents = Array::Zeros(DType::kFloat32, {n, latent});
  for (size_t i = 0; i < goals.latents.f32.size(); ++i) goals.latents.f32[i] = 0.25f * static_cast<float>(i) - 1.0f;
  goals.meta = {{"source", "prior"}, {"seed", 4}};
  return goals;
}

TEST_CASE("goal file: what is written is read back") {
  testing::TempDir tmp;
  const GoalSet goals = Goals(5);
  WriteGoalFile(tmp / "goals.h5", goals);
  const GoalSet read = ReadGoalFile(tmp / "goals.h5");
  CHECK(read.size() == 5);
  CHECK(read.images.shape == goals.images.shape);
  CHECK(read.images.u8 == goals.images.u8);
  CHECK(read.latents.shape == goals.latents.shape);
  CHECK(read.latents.f32 == goals.latents.f32);
  CHECK(read.meta == goals.meta);
  // Replaced atomically: no temporary file is left beside it.
  WriteGoalFile(tmp / "goals.h5", Goals(2));
  CHECK(ReadGoalFile(tmp / "goals.h5").size() == 2);
  CHECK(testing::ListFiles(tmp.path(), "").size() == 1);
}

TEST_CASE("goal file: a layout that does not fit is refused on write, and nothing is written") {
  testing::TempDir tmp;
  const std::string path = tmp / "goals.h5";
  GoalSet none = Goals(1);
  none.images = Array::Zeros(DType::kUint8, {0, 8, 8, 3});
  testing::ExpectError([&] { WriteGoalFile(path, none); }, ExitCode::kUsage, "goal images must be uint8 [N,H,W,C]");
  GoalSet flat = Goals(2);
  flat.images = Array::Zeros(DType::kUint8, {2, 64});
  testing::ExpectError([&] { WriteGoalFile(path, flat); }, ExitCode::kUsage, "goal images must be uint8 [N,H,W,C]");
  GoalSet fewer = Goals(2);
  fewer.latents = Array::Zeros(DType::kFloat32, {1, 3});
  testing::ExpectError([&] { WriteGoalFile(path, fewer); }, ExitCode::kUsage,
                       "goal latents must be float32 [N,L] with the images' N (2)");
  GoalSet nan = Goals(2);
  nan.latents.f32[1] = std::numeric_limits<float>::quiet_NaN();
  testing::ExpectError([&] { WriteGoalFile(path, nan); }, ExitCode::kUsage, "a goal latent is not finite");
  CHECK(testing::ListFiles(tmp.path(), "").empty());
  testing::ExpectError([&] { WriteGoalFile(tmp / "missing/goals.h5", Goals(1)); }, ExitCode::kIoError);
}

TEST_CASE("goal file: not HDF5, truncated, empty, missing, a dataset file, another format") {
  testing::TempDir tmp;
  testing::WriteFile(tmp / "text.h5", "not a goal file at all");
  testing::ExpectError([&] { ReadGoalFile(tmp / "text.h5"); }, ExitCode::kBadData, tmp / "text.h5");
  testing::WriteFile(tmp / "empty.h5", "");
  testing::ExpectError([&] { ReadGoalFile(tmp / "empty.h5"); }, ExitCode::kBadData, tmp / "empty.h5");
  testing::ExpectError([&] { ReadGoalFile(tmp / "missing.h5"); }, ExitCode::kBadData, tmp / "missing.h5");
  WriteGoalFile(tmp / "whole.h5", Goals(40, 16));
  const std::string bytes = testing::ReadFile(tmp / "whole.h5");
  testing::WriteFile(tmp / "half.h5", bytes.substr(0, bytes.size() / 2));
  testing::ExpectError([&] { ReadGoalFile(tmp / "half.h5"); }, ExitCode::kBadData, tmp / "half.h5");
  // An HDF5 file without /goals (what a dataset shard looks like to it).
  GoalSet goals = Goals(1);
  WriteGoalFile(tmp / "g.h5", goals);
  std::string other = testing::ReadFile(tmp / "g.h5");
  const size_t at = other.find("goals");
  REQUIRE(at != std::string::npos);
  other.replace(at, 5, "gaols");
  testing::WriteFile(tmp / "renamed.h5", other);
  testing::ExpectError([&] { ReadGoalFile(tmp / "renamed.h5"); }, ExitCode::kBadData, tmp / "renamed.h5");
}

}  // namespace
}  // namespace perpetua
