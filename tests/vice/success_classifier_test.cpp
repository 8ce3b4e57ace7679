// VICE's success classifier on synthetic images: mixup and the loss by hand,
// learning to separate two image classes, the example split, checkpoints
// round trip, and the reward source that relabels batches with its logits.
#include "vice/success_classifier.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cmath>

#include "common/error.h"
#include "nn/tensor_io.h"
#include "sim/png.h"
#include "support/test_support.h"
#include "support/expect_error.h"
#include "vice/vice_learner.h"

namespace perpetua {
namespace {

using testing::ExpectError;

// n 16x16 images: dark noise with a bright 4x4 square in the left half
// (left = true) or the right half, at a random place.
torch::Tensor Squares(int64_t n, bool left, uint64_t seed) {
  Rng rng(seed);
  torch::Tensor images = torch::zeros({n, 16, 16, 3}, torch::kUInt8);
  auto a = images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i) {
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) {
        for (int c = 0; c < 3; ++c) a[i][y][x][c] = static_cast<uint8_t>(rng.UniformInt(60));
      }
    }
    const int x0 = static_cast<int>(rng.UniformInt(5)) + (left ? 0 : 8), y0 = static_cast<int>(rng.UniformInt(13));
    for (int y = y0; y < y0 + 4; ++y) {
      for (int x = x0; x < x0 + 4; ++x) {
        for (int c = 0; c < 3; ++c) a[i][y][x][c] = 250;
      }
    }
  }
  return images;
}

ViceClassifierConfig Small() {
  ViceClassifierConfig c;
  c.network.conv_channels = {4, 4};
  c.network.hidden = 16;
  c.lr = 3e-3;
  c.positives = 16;
  c.negatives = 16;
  c.augment_shift = 1;
  return c;
}

double Accuracy(SuccessClassifier& classifier, const torch::Tensor& positives, const torch::Tensor& negatives) {
  const torch::Tensor p = classifier.Logits(positives) > 0, n = classifier.Logits(negatives) <= 0;
  return torch::cat({p, n}).to(torch::kFloat32).mean().item<double>();
}

TEST_CASE("mixup mixes inputs and labels pairwise, and the loss is the sigmoid cross-entropy") {
  const torch::Tensor inputs = torch::tensor({1.0f, 3.0f, 5.0f}).view({3, 1});
  const torch::Tensor labels = torch::tensor({1.0f, 0.0f, 0.0f});
  const torch::Tensor lambda = torch::tensor({0.25f, 1.0f, 0.5f});
  const torch::Tensor perm = torch::tensor({1, 2, 0}, torch::kLong);
  const Mixed m = Mixup(inputs, labels, lambda, perm);
  // x~0 = 0.25*1 + 0.75*3; x~1 = 3; x~2 = 0.5*5 + 0.5*1.
  CHECK(m.inputs[0][0].item<float>() == doctest::Approx(2.5f));
  CHECK(m.inputs[1][0].item<float>() == doctest::Approx(3.0f));
  CHECK(m.inputs[2][0].item<float>() == doctest::Approx(3.0f));
  CHECK(m.labels[0].item<float>() == doctest::Approx(0.25f));
  CHECK(m.labels[1].item<float>() == doctest::Approx(0.0f));
  CHECK(m.labels[2].item<float>() == doctest::Approx(0.5f));
  const torch::Tensor logits = torch::tensor({0.0f, 2.0f, -1.0f});
  const auto sig = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  const double expected = -(0.25 * std::log(sig(0)) + 0.75 * std::log(1 - sig(0)) + std::log(1 - sig(2)) +
                            0.5 * std::log(sig(-1)) + 0.5 * std::log(1 - sig(-1))) /
                          3.0;
  CHECK(ClassifierLoss(logits, m.labels).item<double>() == doctest::Approx(expected).epsilon(1e-6));
}

TEST_CASE("mixup weights are Beta(alpha, alpha): in [0, 1], mean 1/2, spread set by alpha, seeded") {
  at::Generator a = at::detail::createCPUGenerator(3), b = at::detail::createCPUGenerator(3);
  const torch::Tensor one = SampleBeta(20000, 1.0, a);
  CHECK(torch::equal(one, SampleBeta(20000, 1.0, b)));
  CHECK(one.min().item<float>() >= 0.0f);
  CHECK(one.max().item<float>() <= 1.0f);
  CHECK(one.mean().item<double>() == doctest::Approx(0.5).epsilon(0.02));
  CHECK(one.var().item<double>() == doctest::Approx(1.0 / 12).epsilon(0.05));  // Beta(1,1) is uniform
  const torch::Tensor peaked = SampleBeta(20000, 20.0, a);
  CHECK(peaked.var().item<double>() < 0.01);  // 1 / (4 (2 alpha + 1)) = 0.006
}

TEST_CASE("the classifier learns to separate two image classes, with and without mixup") {
  for (const double alpha : {1.0, 0.0}) {
    INFO("mixup alpha " << alpha);
    ViceClassifierConfig config = Small();
    config.mixup_alpha = alpha;
    SuccessClassifier classifier(config, 16, 16, torch::kCPU, 1);
    at::Generator generator = at::detail::createCPUGenerator(5);
    const torch::Tensor test_left = Squares(64, true, 900), test_right = Squares(64, false, 901);
    const double before = Accuracy(classifier, test_left, test_right);
    ClassifierStepStats stats;
    for (int step = 0; step < 150; ++step) {
      stats = classifier.Step(Squares(16, true, step), Squares(16, false, 1000 + step), generator);
    }
    CHECK(classifier.steps() == 150);
    CHECK(before < 0.75);
    CHECK(Accuracy(classifier, test_left, test_right) > 0.95);
    CHECK(stats.positive_logit > 0);
    CHECK(stats.negative_logit < 0);
  }
}

TEST_CASE("a classifier checkpoint restores the same logits and optimiser - other sizes are refused") {
  SuccessClassifier a(Small(), 16, 16, torch::kCPU, 1);
  at::Generator g1 = at::detail::createCPUGenerator(5);
  a.Step(Squares(16, true, 1), Squares(16, false, 2), g1);
  CheckpointContents contents;
  a.Save(&contents, "vice", "vice.");
  contents = ParseCheckpoint(SerializeCheckpoint(contents), "c.ckpt");
  // What rl-label score loads: the layers, image size and weights a checkpoint records.
  const torch::Tensor images = Squares(8, true, 3);
  auto scorer = SuccessClassifier::FromCheckpoint(contents, "vice", "vice.", torch::kCPU, "c.ckpt");
  CHECK(scorer->steps() == 1);
  CHECK(scorer->height() == 16);
  CHECK(torch::equal(a.Logits(images), scorer->Logits(images)));
  // What a resumed run restores: weights and optimiser, into its configured classifier.
  auto b = std::make_unique<SuccessClassifier>(Small(), 16, 16, torch::kCPU, 99);
  b->Load(contents, "vice", "vice.", "c.ckpt");
  CHECK(b->steps() == 1);
  CHECK(torch::equal(a.Logits(images), b->Logits(images)));
  // Both take the same next step.
  at::Generator g2 = at::detail::createCPUGenerator(9), g3 = at::detail::createCPUGenerator(9);
  const auto sa = a.Step(Squares(16, true, 4), Squares(16, false, 5), g2);
  const auto sb = b->Step(Squares(16, true, 4), Squares(16, false, 5), g3);
  CHECK(sa.loss == sb.loss);
  CHECK(torch::equal(a.Logits(images), b->Logits(images)));

  SuccessClassifier other_size(Small(), 32, 32, torch::kCPU, 1);
  ExpectError([&] { other_size.Load(contents, "vice", "vice.", "c.ckpt"); }, ExitCode::kBadData,
              "c.ckpt: the classifier is");
  ViceClassifierConfig wider = Small();
  wider.network.hidden = 32;
  SuccessClassifier other_layers(wider, 16, 16, torch::kCPU, 1);
  ExpectError([&] { other_layers.Load(contents, "vice", "vice.", "c.ckpt"); }, ExitCode::kBadData, "c.ckpt:");
  CheckpointContents none;
  ExpectError([&] { SuccessClassifier::FromCheckpoint(none, "vice", "vice.", torch::kCPU, "x.ckpt"); },
              ExitCode::kBadData, "x.ckpt: the checkpoint holds no success classifier");
  contents.blobs.erase("vice.net");
  ExpectError([&] { b->Load(contents, "vice", "vice.", "c.ckpt"); }, ExitCode::kBadData,
              "lacks the classifier weights");
}

TEST_CASE("a non-finite loss stops the classifier with the diverged code") {
  ViceClassifierConfig config = Small();
  config.lr = 1e30;
  SuccessClassifier classifier(config, 16, 16, torch::kCPU, 1);
  at::Generator generator = at::detail::createCPUGenerator(5);
  ExpectError(
      [&] {
        for (int i = 0; i < 20; ++i) classifier.Step(Squares(16, true, i), Squares(16, false, i + 50), generator);
      },
      ExitCode::kDiverged, "non-finite classifier loss");
}

TEST_CASE("the example split holds back a seeded share, disjoint from the rest") {
  ExampleImages examples;
  examples.images = Array::Zeros(DType::kUint8, {10, 2, 2, 3});
  for (int64_t i = 0; i < 10; ++i) {
    for (int j = 0; j < 12; ++j) examples.images.u8[i * 12 + j] = static_cast<uint8_t>(i);
    examples.names.push_back("e" + std::to_string(i));
  }
  const ExampleSplit a = SplitExamples(examples, 0.3, 4, "dir"), b = SplitExamples(examples, 0.3, 4, "dir");
  CHECK(a.train.size(0) == 7);
  CHECK(a.holdout.size(0) == 3);
  CHECK(torch::equal(a.holdout, b.holdout));
  std::set<int> seen;
  for (const auto* part : {&a.train, &a.holdout}) {
    for (int64_t i = 0; i < part->size(0); ++i) seen.insert((*part)[i][0][0][0].item<int>());
  }
  CHECK(seen.size() == 10);
  CHECK(!torch::equal(SplitExamples(examples, 0.3, 5, "dir").holdout, a.holdout));
  CHECK(SplitExamples(examples, 0.0, 4, "dir").holdout.size(0) == 0);
  ExampleImages one;
  one.images = Array::Zeros(DType::kUint8, {1, 2, 2, 3});
  one.names = {"only"};
  CHECK(SplitExamples(one, 0.99, 4, "dir").train.size(0) == 1);  // the share rounds down
  ExpectError([&] { SplitExamples(one, 1.0, 4, "dir"); }, ExitCode::kBadData, "dir: no example left to train on");
}

// An in-memory batch source as the run's mix: a share `online_fraction` of
// each batch online (the last rows: squares on the left), the rest offline
// (squares on the right).
class SquaresSource : public BatchSource {
 public:
  explicit SquaresSource(double online_fraction) : fraction_(online_fraction) {}
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override {
    TransitionBatch batch;
    const int online_rows = static_cast<int>(std::lround(fraction_ * batch_size));
    const torch::Tensor offline = Squares(batch_size - online_rows, false, rng.NextU64());
    const torch::Tensor online = Squares(online_rows, true, rng.NextU64());
    const torch::Tensor images = torch::cat({offline, online}).contiguous();
    Array a = Array::Zeros(DType::kUint8, {batch_size, 16, 16, 3});
    std::memcpy(a.u8.data(), images.data_ptr<uint8_t>(), a.u8.size());
    batch.observations["image"] = a;
    batch.next_observations["image"] = a;
    batch.actions = Array::Zeros(DType::kFloat32, {batch_size, 1});
    batch.rewards.assign(batch_size, 7.0f);
    batch.terminated.assign(batch_size, 0);
    if (online_count) *online_count = online_rows;
    last_ = batch;
    return batch;
  }
  TransitionBatch last_;

 private:
  double fraction_;
};

TEST_CASE("relabelled batches carry the current classifier's logits of s' as rewards - the source's batch is untouched") {
  SquaresSource source(/*online_fraction=*/1.0 / 3);  // 4 of 12
  SuccessClassifier classifier(Small(), 16, 16, torch::kCPU, 1);
  std::mutex mutex;
  ViceRewardSource rewards(&source, &classifier, &mutex, "image");
  Rng rng(1);
  int online = -1;
  const TransitionBatch batch = rewards.Sample(12, rng, &online);
  CHECK(online == 4);
  const torch::Tensor logits = classifier.Logits(ArrayToTensor(batch.next_observations.at("image")));
  for (int i = 0; i < 12; ++i) CHECK(batch.rewards[i] == logits[i].item<float>());
  CHECK(rewards.last_online_reward() == doctest::Approx(logits.slice(0, 8).mean().item<double>()));
  for (float r : source.last_.rewards) CHECK(r == 7.0f);
  // After training on left = success, the online (left) rows earn more than the offline ones.
  at::Generator generator = at::detail::createCPUGenerator(5);
  for (int step = 0; step < 100; ++step) classifier.Step(Squares(16, true, step), Squares(16, false, 500 + step), generator);
  const TransitionBatch later = rewards.Sample(12, rng, nullptr);
  double offline_mean = 0, online_mean = 0;
  for (int i = 0; i < 8; ++i) offline_mean += later.rewards[i] / 8.0;
  for (int i = 8; i < 12; ++i) online_mean += later.rewards[i] / 4.0;
  CHECK(online_mean > 0);
  CHECK(offline_mean < 0);
  CHECK(rewards.last_online_reward() == doctest::Approx(online_mean).epsilon(1e-4));
  SquaresSource no_image(0.0);
  ViceRewardSource wrong_key(&no_image, &classifier, &mutex, "wrist");
  ExpectError([&] { wrong_key.Sample(4, rng, nullptr); }, ExitCode::kBadData, "VICE: the batch has no image 'wrist'");
}

TEST_CASE("the question candidate is the online state with the highest logit drawn since the last take") {
  SquaresSource source(/*online_fraction=*/0.5);
  SuccessClassifier classifier(Small(), 16, 16, torch::kCPU, 1);
  std::mutex mutex;
  ViceRewardSource rewards(&source, &classifier, &mutex, "image");
  Rng rng(4);
  rewards.Sample(8, rng, nullptr);
  CHECK(!rewards.TakeCandidate().valid);  // not tracked until asked to
  rewards.TrackCandidates(true);
  double best = -1e9;
  Array best_image;
  float best_reward = 0;
  for (int draw = 0; draw < 5; ++draw) {
    source.last_ = TransitionBatch();
    const TransitionBatch batch = rewards.Sample(8, rng, nullptr);
    for (int row = 4; row < 8; ++row) {  // the online rows
      if (batch.rewards[row] > best) {
        best = batch.rewards[row];
        best_image = ImageRow(batch.next_observations.at("image"), row);
        best_reward = source.last_.rewards[row];
      }
    }
  }
  ViceRewardSource::Candidate c = rewards.TakeCandidate();
  REQUIRE(c.valid);
  CHECK(c.logit == doctest::Approx(best));
  CHECK(c.image.u8 == best_image.u8);
  CHECK(c.data_reward == best_reward);  // the data's reward, not the classifier's
  CHECK(!rewards.TakeCandidate().valid);  // taken: nothing until the next draw
  // An excluded image is never offered again.
  rewards.Exclude(c.hash);
  Rng same(4);
  ViceRewardSource again(&source, &classifier, &mutex, "image");
  again.TrackCandidates(true);
  again.Exclude(c.hash);
  for (int draw = 0; draw < 6; ++draw) again.Sample(8, same, nullptr);
  const ViceRewardSource::Candidate other = again.TakeCandidate();
  REQUIRE(other.valid);
  CHECK(other.image.u8 != c.image.u8);
}

// A learner that only draws batches (what VICE wraps, reduced to its use of the source).
class DrawingLearner : public Learner {
 public:
  std::string algorithm() const override { return "drawing"; }
  void Validate() const override {}
  void Build(const LearnerSetup& setup, LearnerStart, const CheckpointContents*, const std::string&) override {
    setup_ = setup;
  }
  UpdateResult Update(Rng& rng, at::Generator&) override {
    UpdateResult r;
    last_ = setup_.batches->Sample(8, rng, &r.online_count);
    ++steps_;
    return r;
  }
  int64_t step() const override { return steps_; }
  void Save(CheckpointContents*) override {}
  std::string Describe() override { return "drawing"; }
  TransitionBatch last_;

 private:
  LearnerSetup setup_;
  int64_t steps_ = 0;
};

TEST_CASE("VICE in a run: batches reach the inner learner relabelled - negatives from the mix or the online rows") {
  // Examples: squares on the right. The source: offline rows right, online rows left.
  testing::TempDir tmp;
  ::mkdir((tmp / "examples").c_str(), 0755);
  const torch::Tensor right = Squares(16, false, 77).contiguous();
  for (int i = 0; i < 16; ++i) {
    Array a = Array::Zeros(DType::kUint8, {16, 16, 3});
    std::memcpy(a.u8.data(), right[i].data_ptr<uint8_t>(), a.u8.size());
    sim::WritePng(tmp / ("examples/e" + std::to_string(i) + ".png"), a);
  }
  EnvSpec spec;
  spec.observations = {{"image", DType::kUint8, {16, 16, 3}}};
  spec.action.low = {-1.0f};
  spec.action.high = {1.0f};
  double right_logit[2];
  for (const bool online_negatives : {false, true}) {
    INFO("online negatives " << online_negatives);
    ViceConfig config;
    config.examples = tmp / "examples";
    config.classifier = Small();
    config.train_every = 1;
    config.online_negatives = online_negatives;
    auto inner = std::make_unique<DrawingLearner>();
    DrawingLearner* drawing = inner.get();
    ViceLearner vice(config, std::move(inner));
    SquaresSource source(/*online_fraction=*/0.5);
    LearnerSetup setup;
    setup.data_spec = spec;
    setup.data_source = "toy";
    setup.seed = 3;
    setup.batch_size = 8;
    setup.batches = &source;
    setup.out_dir = tmp.path();
    vice.Build(setup, LearnerStart::kFresh, nullptr, "");
    Rng rng(1);
    at::Generator generator = at::detail::createCPUGenerator(2);
    for (int i = 0; i < 120; ++i) vice.Update(rng, generator);
    CHECK(vice.classifier().steps() == 120);
    // The inner learner's batch carries the classifier's logits of s'.
    const torch::Tensor logits = vice.classifier().Logits(ArrayToTensor(drawing->last_.next_observations.at("image")));
    for (int i = 0; i < 8; ++i) CHECK(drawing->last_.rewards[i] == doctest::Approx(logits[i].item<float>()));
    right_logit[online_negatives] = vice.classifier().Logits(Squares(32, false, 999)).mean().item<double>();
  }
  // From the mix, the right squares are negatives too (offline rows): the examples' look scores
  // lower than when only the online (left) rows are negatives.
  MESSAGE("mean logit of right squares: mix " << right_logit[0] << ", online " << right_logit[1]);
  CHECK(right_logit[1] > 0);
  CHECK(right_logit[1] > right_logit[0] + 1);
}

TEST_CASE("bad VICE settings are usage errors naming the flag") {
  RewardSettings s;
  s.reward = "classifier";
  ExpectError([&] { s.Validate(); }, ExitCode::kUsage, "--reward must be env or vice, not 'classifier'");
  s.reward = "vice";
  ExpectError([&] { s.Validate(); }, ExitCode::kUsage, "--reward vice needs --vice.examples DIR");
  s.vice.examples = "dir";
  s.Validate();
  s.vice.train_every = 0;
  ExpectError([&] { s.Validate(); }, ExitCode::kUsage, "--vice.train-every must be positive");
  s.vice.train_every = 1;
  s.vice.classifier.mixup_alpha = -1;
  ExpectError([&] { s.Validate(); }, ExitCode::kUsage, "--vice.classifier.mixup-alpha");
  s.vice.classifier.mixup_alpha = 1;
  s.vice.classifier.network.conv_channels = {};
  ExpectError([&] { s.Validate(); }, ExitCode::kUsage, "--vice.classifier.network.conv-channels");
  s.vice.classifier.network.conv_channels = {8, 8, 8, 8};
  s.Validate();
  ExpectError([&] { SuccessClassifier(s.vice.classifier, 8, 8, torch::kCPU, 0); }, ExitCode::kUsage,
              "max-pools leave nothing of a 8x8 image");
  s.reward = "env";
  s.vice.classifier.lr = -1;
  s.Validate();  // the VICE settings matter only with --reward vice
}

}  // namespace
}  // namespace perpetua
