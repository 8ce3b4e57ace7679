// Checkpoint -> policy by algorithm: the registry picks the loader from the
// checkpoint's "algorithm", once the learners are registered explicitly.
#include "policy/checkpoint_policy.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "collect/checkpoint_fixture.h"
#include "learners/register_learners.h"
#include "nn/checkpoint.h"
#include "policy/random_policy.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

EnvSpec Spec() {
  EnvSpec spec;
  spec.name = "toy";
  spec.observations = {{"image", DType::kUint8, {16, 16, 3}}, {"proprio", DType::kFloat32, {2}}};
  spec.action.low = {-1.0f, -1.0f};
  spec.action.high = {1.0f, 1.0f};
  return spec;
}

TEST_CASE("checkpoints load through the loader of their algorithm") {
  testing::TempDir dir;
  testing::WriteTestCheckpoint(dir / "q.ckpt", Spec(), "q-run-1");
  CheckpointContents alien;
  alien.metadata = {{"algorithm", "alien"}, {"id", "a-1"}};
  WriteCheckpoint(dir / "alien.ckpt", alien);
  // Nothing registered for "alien": the message lists what this build reads.
  RegisterLearnerPolicies();
  RegisterLearnerPolicies();  // idempotent
  const std::vector<std::string> known = RegisteredCheckpointAlgorithms();
  CHECK(std::count(known.begin(), known.end(), "qtopt") == 1);
  testing::ExpectError([&] { LoadCheckpointPolicy(dir / "alien.ckpt", Spec(), {}); }, ExitCode::kBadData,
                       dir / "alien.ckpt" + ": checkpoint algorithm 'alien' is not supported (this build reads: ");
  auto q = LoadCheckpointPolicy(dir / "q.ckpt", Spec(), {});
  CHECK(q->id() == "checkpoint:q-run-1");
  Observation obs;
  obs["image"] = Array::Zeros(DType::kUint8, {16, 16, 3});
  obs["proprio"] = Array::FromFloats({0.0f, 0.0f});
  q->BeginEpisode(1);
  CHECK(q->Act(obs, nlohmann::json::object()).size() == 2);
  // A registered loader receives the path, the spec and the options.
  std::string seen_path;
  uint64_t seen_seed = 0;
  RegisterCheckpointPolicy("alien", [&](const std::string& path, const EnvSpec& spec, const PolicyLoadOptions& o) {
    seen_path = path;
    seen_seed = o.seed;
    return MakeRandomPolicy(spec, o.seed);
  });
  PolicyLoadOptions options;
  options.seed = 9;
  CHECK(LoadCheckpointPolicy(dir / "alien.ckpt", Spec(), options) != nullptr);
  CHECK(seen_path == dir / "alien.ckpt");
  CHECK(seen_seed == 9);
  // A file that is no checkpoint is refused by the container check.
  testing::WriteFile(dir / "text.ckpt", "not a checkpoint");
  testing::ExpectError([&] { LoadCheckpointPolicy(dir / "text.ckpt", Spec(), {}); }, ExitCode::kBadData,
                       dir / "text.ckpt" + ": not a Perpetua checkpoint");
}

}  // namespace
}  // namespace perpetua
