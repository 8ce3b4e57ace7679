// The latent-goal relabelling (skewfit/latent_goals.h) over an in-memory
// source whose rows are told apart by their images: the shares of rollout,
// prior and hindsight goals hold, each goal is the right encoding, the reward
// is recomputed for the relabelled goal, no row is terminal, and the same Rng
// gives the same batch.
#include "skewfit/latent_goals.h"

#include <doctest/doctest.h>

#include <cmath>

#include "common/error.h"
#include "nn/tensor_io.h"
#include "support/expect_error.h"

namespace perpetua {
namespace {

constexpr int64_t kSide = 16;

VaeConfig Small() {
  VaeConfig c;
  c.network.image_size = kSide;
  c.network.channels = {8, 16};
  c.network.kernels = {3, 3};
  c.network.strides = {2, 2};
  c.network.latent_dim = 4;
  return c;
}

Array Filled(int64_t rows, int value) {
  Array a = Array::Zeros(DType::kUint8, {rows, kSide, kSide, 3});
  std::fill(a.u8.begin(), a.u8.end(), static_cast<uint8_t>(value));
  return a;
}

// Rows: s all 10, s' all 60, the goal image all 250, the future observation all 130.
class FixedSource : public BatchSource {
 public:
  explicit FixedSource(bool goal_images) : goal_images_(goal_images) {}
  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override {
    return SampleFor(batch_size, rng, online_count, {});
  }
  TransitionBatch SampleFor(int batch_size, Rng& /*rng*/, int* online_count, const SampleRequest& request) override {
    TransitionBatch b;
    b.observations["image"] = Filled(batch_size, 10);
    b.next_observations["image"] = Filled(batch_size, 60);
    if (goal_images_) {
      b.observations["goal_image"] = Filled(batch_size, 250);
      b.next_observations["goal_image"] = Filled(batch_size, 250);
    }
    for (const std::string& key : request.future_keys) b.future_observations[key] = Filled(batch_size, 130);
    b.actions = Array::Zeros(DType::kFloat32, {batch_size, 2});
    b.rewards.assign(static_cast<size_t>(batch_size), 7.0f);      // the data's: never used
    b.terminated.assign(static_cast<size_t>(batch_size), 1);      // the cell's: never used
    if (online_count) *online_count = 0;
    return b;
  }

 private:
  bool goal_images_;
};

torch::Tensor Rows(const Array& a) { return ArrayToTensor(a); }

TEST_CASE("relabelled goals: shares hold, each goal is its encoding, rewards recomputed, nothing terminal") {
  GoalVae vae(Small(), kSide, kSide, 3, torch::kCPU, 1);
  std::mutex mutex;
  GoalRelabelConfig config;  // 20% rollout, 50% sampled, 30% hindsight
  config.sampled_from = "prior";
  FixedSource raw(/*goal_images=*/true);
  LatentGoalSource source(&raw, &vae, &mutex, config, "image", true);
  Rng rng(4);
  constexpr int kRows = 4000;
  const TransitionBatch batch = source.Sample(kRows, rng, nullptr);
  REQUIRE(batch.size() == kRows);
  const torch::Tensor z = Rows(batch.observations.at(kLatentKey));
  const torch::Tensor z_next = Rows(batch.next_observations.at(kLatentKey));
  const torch::Tensor goal = Rows(batch.observations.at(kLatentGoalKey));
  CHECK(z.sizes().vec() == std::vector<int64_t>{kRows, 4});
  CHECK(torch::equal(goal, Rows(batch.next_observations.at(kLatentGoalKey))));
  const auto encode = [&](int value) { return vae.Encode(Rows(Filled(1, value))).squeeze(0); };
  CHECK(torch::allclose(z[0], encode(10)));
  CHECK(torch::allclose(z_next[0], encode(60)));
  const torch::Tensor rollout = encode(250), hindsight = encode(130);
  int rollouts = 0, hindsights = 0, priors = 0;
  for (int64_t i = 0; i < kRows; ++i) {
    if (torch::allclose(goal[i], rollout)) {
      ++rollouts;
    } else if (torch::allclose(goal[i], hindsight)) {
      ++hindsights;
    } else {
      ++priors;
    }
    const double want = -(z_next[i] - goal[i]).norm().item<double>();
    CHECK(batch.rewards[static_cast<size_t>(i)] == doctest::Approx(want).epsilon(1e-5));
    CHECK(batch.terminated[static_cast<size_t>(i)] == 0);
  }
  // Binomial shares of 4,000 rows: sd at most 0.8 points.
  CHECK(rollouts / double(kRows) == doctest::Approx(0.2).epsilon(0.2));
  CHECK(priors / double(kRows) == doctest::Approx(0.5).epsilon(0.1));
  CHECK(hindsights / double(kRows) == doctest::Approx(0.3).epsilon(0.15));
  const GoalMix mix = source.last_mix();
  CHECK(mix.rollout == rollouts);
  CHECK(mix.hindsight == hindsights);
  CHECK(mix.sampled == priors);
  // Prior goals look like N(0, I): mean near 0, variance near 1.
  const torch::Tensor prior_rows = goal.index({((goal - rollout).norm(2, 1) > 1e-4) & ((goal - hindsight).norm(2, 1) > 1e-4)});
  CHECK(prior_rows.mean().item<double>() == doctest::Approx(0.0).epsilon(0.05));
  CHECK(prior_rows.var().item<double>() == doctest::Approx(1.0).epsilon(0.1));

  // The same Rng, the same batch.
  Rng again(4);
  const TransitionBatch repeated = source.Sample(kRows, again, nullptr);
  CHECK(repeated.rewards == batch.rewards);
  CHECK(repeated.observations.at(kLatentGoalKey).f32 == batch.observations.at(kLatentGoalKey).f32);
}

TEST_CASE("without goal images, rollout rows take sampled goals - a source without futures is refused") {
  GoalVae vae(Small(), kSide, kSide, 3, torch::kCPU, 1);
  std::mutex mutex;
  GoalRelabelConfig config;
  config.rollout_fraction = 0.5;
  config.sampled_fraction = 0.0;
  FixedSource raw(/*goal_images=*/false);
  LatentGoalSource source(&raw, &vae, &mutex, config, "image", false);
  Rng rng(2);
  source.Sample(2000, rng, nullptr);
  const GoalMix mix = source.last_mix();
  CHECK(mix.rollout == 0);
  CHECK(mix.sampled / 2000.0 == doctest::Approx(0.5).epsilon(0.1));
  CHECK(mix.sampled + mix.hindsight == 2000);

  // A BatchSource that cannot serve future observations (the interface's default).
  struct NoFutures : BatchSource {
    FixedSource inner{true};
    TransitionBatch Sample(int batch_size, Rng& r, int* online) override { return inner.Sample(batch_size, r, online); }
  } plain;
  LatentGoalSource refused(&plain, &vae, &mutex, config, "image", true);
  testing::ExpectError([&] { refused.Sample(4, rng, nullptr); }, ExitCode::kBadData,
                       "this data source cannot serve hindsight goals (future observations)");
}

TEST_CASE("--goal.sampled-from data: sampled goals are encoded seen states, skewed when the VAE gives them") {
  GoalVae vae(Small(), kSide, kSide, 3, torch::kCPU, 1);
  std::mutex mutex;
  GoalRelabelConfig config;
  config.sampled_from = "data";
  FixedSource raw(/*goal_images=*/true);
  const auto encode = [&](int value) { return vae.Encode(Rows(Filled(1, value))).squeeze(0); };
  const auto sampled_rows = [&](const TransitionBatch& batch) {
    const torch::Tensor goal = Rows(batch.observations.at(kLatentGoalKey));
    return goal.index({((goal - encode(250)).norm(2, 1) > 1e-4) & ((goal - encode(130)).norm(2, 1) > 1e-4)});
  };
  constexpr int kRows = 400;

  // The skew pool's draw: every sampled goal is its image's encoding, and the draw saw each row.
  int64_t asked = 0;
  LatentGoalSource skewed(&raw, &vae, &mutex, config, "image", true, [&](int64_t n, Rng&) {
    asked += n;
    return Rows(Filled(n, 200));
  });
  Rng rng(5);
  const TransitionBatch batch = skewed.Sample(kRows, rng, nullptr);
  const torch::Tensor from_pool = sampled_rows(batch);
  CHECK(from_pool.size(0) == skewed.last_mix().sampled);
  CHECK(asked == skewed.last_mix().sampled);
  CHECK(from_pool.size(0) / double(kRows) == doctest::Approx(0.5).epsilon(0.2));
  CHECK(torch::allclose(from_pool, encode(200).expand_as(from_pool)));
  for (int64_t i = 0; i < batch.size(); ++i) {
    const torch::Tensor g = Rows(batch.observations.at(kLatentGoalKey))[i];
    const double want = -(Rows(batch.next_observations.at(kLatentKey))[i] - g).norm().item<double>();
    CHECK(batch.rewards[static_cast<size_t>(i)] == doctest::Approx(want).epsilon(1e-5));
  }

  // Not skewing (the VAE gives none): states of the batch's own rows.
  LatentGoalSource uniform(&raw, &vae, &mutex, config, "image", true, [](int64_t, Rng&) { return torch::Tensor(); });
  const torch::Tensor from_batch = sampled_rows(uniform.Sample(kRows, rng, nullptr));
  REQUIRE(from_batch.size(0) > 0);
  CHECK(torch::allclose(from_batch, encode(10).expand_as(from_batch)));
  LatentGoalSource without(&raw, &vae, &mutex, config, "image", true);
  const torch::Tensor no_function = sampled_rows(without.Sample(kRows, rng, nullptr));
  REQUIRE(no_function.size(0) > 0);
  CHECK(torch::allclose(no_function, encode(10).expand_as(no_function)));
}

TEST_CASE("relabelling settings are usage errors naming the flag") {
  const auto bad = [](auto change, const std::string& message) {
    GoalSettings s;
    s.goals = "vae:x.ckpt";
    change(s);
    testing::ExpectError([&] { s.Validate(); }, ExitCode::kUsage, message);
  };
  bad([](GoalSettings& s) { s.goals = "x.ckpt"; }, "--goals must be vae:CKPT (an rl-goals fit checkpoint), not 'x.ckpt'");
  bad([](GoalSettings& s) { s.goal.rollout_fraction = 1.5; }, "--goal.rollout-fraction must be in [0, 1]");
  bad([](GoalSettings& s) { s.goal.rollout_fraction = 0.6; }, "--goal.sampled-fraction plus --goal.rollout-fraction must be at most 1 (the rest are hindsight goals)");
  bad([](GoalSettings& s) { s.goal.alpha = 0.5; }, "--goal.alpha must be in [-1, 0] (0: RIG, negative: Skew-Fit)");
  bad([](GoalSettings& s) { s.goal.sampled_from = "buffer"; }, "--goal.sampled-from must be prior or data, not 'buffer'");
  bad([](GoalSettings& s) { s.goal.fit_every = -1; }, "--goal.fit-every must be >= 0 (0: the VAE stays as loaded)");
  GoalSettings none;
  none.goal.alpha = 5;  // not checked without --goals
  CHECK_NOTHROW(none.Validate());
  CHECK(GoalSettings{"vae:/a/b.ckpt", {}}.vae_path() == "/a/b.ckpt");
}

}  // namespace
}  // namespace perpetua
