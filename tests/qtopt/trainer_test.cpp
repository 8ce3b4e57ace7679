// The trainer state machine on in-memory data: exact resume, divergence
// guard, target workers, checkpoints and the checkpoint policy loader.
#include "qtopt/trainer.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "nn/checkpoint.h"
#include "qtopt/memory_replay.h"
#include "qtopt/q_policy.h"
#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

// A small, fast configuration on 16x16 toy images, deterministic (0 workers).
QTrainConfig SmallConfig(const std::string& out) {
  QTrainConfig c;
  c.data = {"memory"};
  c.out = out;
  c.steps = 8;
  c.batch_size = 8;
  c.seed = 5;
  c.threads = 1;
  c.checkpoint_every = 1000;
  c.log_every = 2;
  c.network.encoder_channels = {8, 8};
  c.network.hidden = 16;
  c.cem.samples = 16;
  c.cem.elites = 4;
  c.target.lag_steps = 3;
  c.target_workers.count = 0;
  c.augment.shift = 2;  // resume must restore the generator the shifts draw from
  return c;
}

void Train(const QTrainConfig& config, const ReplayDataFactory& factory) {
  QTrainer trainer(config, "effective: config\n", factory);
  trainer.Init();
  while (trainer.Step()) {
  }
  trainer.Finish();
}

TEST_CASE("resume: N steps then N more equals 2N steps straight") {
  testing::TempDir straight, split;
  const auto factory = testing::ToyFactory(6);
  QTrainConfig full = SmallConfig(straight.path());
  Train(full, factory);

  QTrainConfig half = SmallConfig(split.path());
  half.steps = 4;
  Train(half, factory);
  QTrainConfig rest = SmallConfig(split.path());
  rest.resume = true;
  Train(rest, factory);

  const CheckpointContents a = ReadCheckpoint(straight / "latest.ckpt");
  const CheckpointContents b = ReadCheckpoint(split / "latest.ckpt");
  CHECK(a.metadata["step"] == 8);
  CHECK(b.metadata["step"] == 8);
  // Networks, target networks, RNG and generator states: byte for byte. (The
  // optimiser archive keys its state by tensor address, so its bytes differ;
  // equal weights after 4 resumed Adam steps require its moments restored exactly.)
  for (const std::string blob : {"net.online", "net.target1", "net.target2", "trainer.generator",
                                 "example.logits"}) {
    CAPTURE(blob);
    REQUIRE(a.blobs.count(blob) == 1);
    CHECK(a.blobs.at(blob) == b.blobs.at(blob));
  }
  CHECK(nlohmann::json::parse(a.blobs.at("trainer.state"))["rng"] ==
        nlohmann::json::parse(b.blobs.at("trainer.state"))["rng"]);
  // A different seed gives different weights (the comparison above can fail).
  testing::TempDir other;
  QTrainConfig reseeded = SmallConfig(other.path());
  reseeded.seed = 6;
  Train(reseeded, factory);
  CHECK(ReadCheckpoint(other / "latest.ckpt").blobs.at("net.online") != a.blobs.at("net.online"));
  // And the shifts reach the update: without them the weights differ too.
  testing::TempDir unshifted;
  QTrainConfig plain = SmallConfig(unshifted.path());
  plain.augment.shift = 0;
  Train(plain, factory);
  CHECK(ReadCheckpoint(unshifted / "latest.ckpt").blobs.at("net.online") != a.blobs.at("net.online"));
}

TEST_CASE("target workers train and write checkpoints metrics and a loadable policy") {
  testing::TempDir out;
  QTrainConfig c = SmallConfig(out.path());
  c.target_workers.count = 2;
  c.target_workers.publish_every = 2;
  c.steps = 12;
  c.checkpoint_every = 5;
  c.keep_checkpoints = 2;
  Train(c, testing::ToyFactory(6));
  CHECK(testing::ListFiles(out.path(), ".ckpt") ==
        std::vector<std::string>{"ckpt-00000010.ckpt", "ckpt-00000012.ckpt", "latest.ckpt"});
  const std::string metrics = testing::ReadFile(out / "metrics.jsonl");
  CHECK(std::count(metrics.begin(), metrics.end(), '\n') == 6);
  const auto last = nlohmann::json::parse(metrics.substr(metrics.rfind('\n', metrics.size() - 2) + 1));
  CHECK(last["step"] == 12);
  for (const char* key : {"loss", "q_mean", "target_mean", "steps_per_s", "update_fraction", "offline_transitions",
                          "online_share"}) {
    CAPTURE(key);
    CHECK(last.contains(key));
  }
  CHECK(testing::ReadFile(out / "metrics.csv").rfind("step,loss,q_mean,", 0) == 0);
  CHECK(testing::ReadFile(out / "config.yaml") == "effective: config\n");

  auto policy = LoadPolicyFromCheckpoint(out / "latest.ckpt", testing::ToySpec());
  CHECK(policy->id() == "checkpoint:" + ReadCheckpointId(out / "latest.ckpt"));
  CHECK(ReadCheckpointId(out / "latest.ckpt") == ReadCheckpointId(out / "ckpt-00000012.ckpt"));
  CHECK(ReadCheckpointId(out / "latest.ckpt") != ReadCheckpointId(out / "ckpt-00000010.ckpt"));
  const Episode e = testing::ToyEpisode(9);
  Observation obs;
  obs["image"] = Array::Zeros(DType::kUint8, {16, 16, 3});
  obs["proprio"] = Array::FromFloats({0.1f, -0.2f});
  policy->BeginEpisode(3);
  const std::vector<float> action = policy->Act(obs, nlohmann::json::object());
  REQUIRE(action.size() == 2);
  for (float v : action) CHECK((v >= -1.0f && v <= 1.0f));
  policy->BeginEpisode(3);
  CHECK(policy->Act(obs, nlohmann::json::object()) == action);  // same episode seed, same action
}

TEST_CASE("the policy loader refuses corrupt and mismatched checkpoints") {
  testing::TempDir out;
  Train(SmallConfig(out.path()), testing::ToyFactory(4));
  const std::string good = testing::ReadFile(out / "latest.ckpt");
  EnvSpec wrong = testing::ToySpec(32);
  std::string e = testing::ExpectError([&] { LoadPolicyFromCheckpoint(out / "latest.ckpt", wrong); },
                                       ExitCode::kBadData);
  CHECK(e == out / "latest.ckpt" + ": checkpoint does not match cell 'toy': image size 16x16 vs "
                                                      "32x32 (checkpoint vs cell 'toy')");
  wrong = testing::ToySpec();
  wrong.action.high = {1.0f, 2.0f};
  testing::ExpectError([&] { LoadPolicyFromCheckpoint(out / "latest.ckpt", wrong); }, ExitCode::kBadData,
                       "action bounds");
  testing::WriteFile(out / "cut.ckpt", good.substr(0, good.size() / 2));
  e = testing::ExpectError([&] { LoadPolicyFromCheckpoint(out / "cut.ckpt", testing::ToySpec()); },
                           ExitCode::kBadData);
  CHECK(e.rfind(out / "cut.ckpt" + ": truncated checkpoint", 0) == 0);
  // A checkpoint from another algorithm.
  CheckpointContents alien;
  alien.metadata = {{"algorithm", "sac"}, {"id", "x"}};
  WriteCheckpoint(out / "sac.ckpt", alien);
  e = testing::ExpectError([&] { LoadPolicyFromCheckpoint(out / "sac.ckpt", testing::ToySpec()); },
                           ExitCode::kBadData);
  CHECK(e == out / "sac.ckpt" + ": checkpoint algorithm 'sac' is not supported (expected 'qtopt')");
  // Weights altered behind a valid container: the example output check catches it.
  CheckpointContents altered = ReadCheckpoint(out / "latest.ckpt");
  altered.blobs["example.logits"] = ReadCheckpoint(out / "latest.ckpt").blobs.at("example.image");
  WriteCheckpoint(out / "altered.ckpt", altered);
  testing::ExpectError([&] { LoadPolicyFromCheckpoint(out / "altered.ckpt", testing::ToySpec()); },
                       ExitCode::kBadData);
}

TEST_CASE("a diverging run stops with kDiverged and keeps the last good checkpoint") {
  testing::TempDir first, out;
  Train(SmallConfig(first.path()), testing::ToyFactory(4));
  QTrainConfig c = SmallConfig(out.path());
  c.init = first / "latest.ckpt";
  c.optim.learning_rate = 1e30;  // the first step blows the weights up
  c.optim.grad_clip = 0.0;
  c.checkpoint_every = 1;
  c.steps = 50;
  QTrainer trainer(c, "", testing::ToyFactory(4));
  trainer.Init();
  const std::string message = testing::ExpectError(
      [&] {
        while (trainer.Step()) {
        }
      },
      ExitCode::kDiverged);
  INFO(message);
  CHECK(message.find("non-finite") == 0);
  const int64_t good = trainer.step();
  CHECK(message.find("stopped without saving, the last good checkpoint is " + out.path() + "/ckpt-") !=
        std::string::npos);
  // latest.ckpt is intact and holds the last finite step.
  const CheckpointContents latest = ReadCheckpoint(out / "latest.ckpt");
  CHECK(latest.metadata["step"].get<int64_t>() == good);
  CHECK(good < 50);
}

TEST_CASE("trainer settings are validated with the flag name") {
  testing::TempDir out;
  QTrainConfig c = SmallConfig(out.path());
  c.cem.elites = 100;
  std::string e = testing::ExpectError([&] { Train(c, testing::ToyFactory(2)); }, ExitCode::kUsage);
  CHECK(e == "--cem.elites must be in [1, samples=16], got 100");
  c = SmallConfig(out.path());
  c.online = "stdin";
  e = testing::ExpectError([&] { Train(c, testing::ToyFactory(2)); }, ExitCode::kUsage);
  CHECK(e == "--online takes '-' (shard paths on stdin) or a dataset directory, got 'stdin'");
  c = SmallConfig(out.path());
  c.resume = true;
  e = testing::ExpectError([&] { Train(c, testing::ToyFactory(2)); }, ExitCode::kBadData);
  CHECK(e == "--resume: no checkpoint at " + out / "latest.ckpt");
}

TEST_CASE("the greedy policy learns the rewarded action of a toy problem") {
  // Terminal steps pay 1 exactly when action[0] > 0, so argmax_a Q has a[0] > 0 in every state.
  testing::TempDir out;
  QTrainConfig c = SmallConfig(out.path());
  c.steps = 400;  // 0 steps: 0/20 positive (checked when writing this test)
  c.batch_size = 32;
  c.target_workers.count = 1;
  Train(c, testing::ToyFactory(40));
  auto policy = LoadPolicyFromCheckpoint(out / "latest.ckpt", testing::ToySpec());
  int positive = 0;
  for (int i = 0; i < 20; ++i) {
    const Episode e = testing::ToyEpisode(1000 + static_cast<uint64_t>(i));
    Observation obs;
    obs["image"] = e.observations.at("image");
    obs["image"].shape = {16, 16, 3};
    obs["image"].u8.resize(16 * 16 * 3);
    obs["proprio"] = Array::FromFloats({e.observations.at("proprio").f32[0], e.observations.at("proprio").f32[1]});
    policy->BeginEpisode(static_cast<uint64_t>(i));
    positive += policy->Act(obs, nlohmann::json::object())[0] > 0.0f;
  }
  CHECK(positive >= 18);
}

TEST_CASE("too little data is refused") {
  testing::TempDir out;
  QTrainConfig c = SmallConfig(out.path());
  c.min_transitions = 100;
  const std::string e = testing::ExpectError([&] { Train(c, testing::ToyFactory(2)); }, ExitCode::kBadData);
  CHECK(e == "only 6 transition(s) to train on (need --min-transitions 100) in --data");
}

}  // namespace
}  // namespace perpetua
