// The VAE on small in-memory images: the ELBO against a hand computation, the
// layer sizes, the density estimate's ranking of frequent over rare images,
// bit-exact save and load, and checkpoints of another image shape refused.
#include "vae/goal_vae.h"

#include <doctest/doctest.h>

#include <cmath>

#include "common/error.h"
#include "support/expect_error.h"

namespace perpetua {
namespace {

VaeConfig Small(int image_size = 16) {
  VaeConfig c;
  c.network.image_size = image_size;
  c.network.channels = {8, 16};
  c.network.kernels = {3, 3};
  c.network.strides = {2, 2};
  c.network.latent_dim = 4;
  c.beta = 1.0;
  c.density_samples = 8;
  return c;
}

// A [h,w,3] uint8 image of colour (r,g,b) in a square at (y,x) of side s on black.
torch::Tensor Square(int64_t h, int64_t w, int64_t y, int64_t x, int64_t s, int r, int g, int b) {
  torch::Tensor image = torch::zeros({h, w, 3}, torch::kUInt8);
  image.slice(0, y, y + s).slice(1, x, x + s).select(2, 0).fill_(r);
  image.slice(0, y, y + s).slice(1, x, x + s).select(2, 1).fill_(g);
  image.slice(0, y, y + s).slice(1, x, x + s).select(2, 2).fill_(b);
  return image;
}

TEST_CASE("ELBO terms match a hand computation") {
  // Two pixels: targets 0.25 and 1 under logits 0 and 2; posterior N(0.5, 0.25) in one latent.
  const torch::Tensor x = torch::tensor({0.25f, 1.0f}).view({1, 2});
  const torch::Tensor logits = torch::tensor({0.0f, 2.0f}).view({1, 2});
  const torch::Tensor mean = torch::tensor({0.5f}).view({1, 1});
  const torch::Tensor log_var = torch::tensor({static_cast<float>(std::log(0.25))}).view({1, 1});
  const ElboTerms terms = ComputeElboTerms(x, logits, mean, log_var, "bernoulli");
  // BCE(l, x) = log(1 + e^l) - x l:  log 2 = 0.693147, log(1 + e^2) - 2 = 0.126928.
  CHECK(terms.log_likelihood.item<double>() == doctest::Approx(-(std::log(2.0) + std::log1p(std::exp(2.0)) - 2.0)));
  CHECK(terms.log_likelihood.item<double>() == doctest::Approx(-0.820075).epsilon(1e-5));
  // KL = 1/2 (0.25 + 0.25 - 1 - log 0.25) = 0.443147.
  CHECK(terms.kl.item<double>() == doctest::Approx(0.443147).epsilon(1e-5));
  CHECK(VaeLoss(terms, 20.0).item<double>() == doctest::Approx(0.820075 + 20 * 0.443147).epsilon(1e-5));
  // A posterior equal to the prior costs nothing.
  CHECK(ComputeElboTerms(x, logits, torch::zeros({1, 3}), torch::zeros({1, 3}), "bernoulli").kl.item<double>() == 0.0);
  // Unit-variance Gaussian around the means sigmoid(0) = 0.5 and sigmoid(2) = 0.880797:
  // -1/2 ((0.25 - 0.5)^2 + (1 - 0.880797)^2 + 2 log 2 pi) = -1/2 (0.0625 + 0.014209 + 3.675754) = -1.876232.
  const ElboTerms gaussian = ComputeElboTerms(x, logits, mean, log_var, "gaussian");
  CHECK(gaussian.log_likelihood.item<double>() == doctest::Approx(-1.876232).epsilon(1e-5));
  CHECK(gaussian.kl.item<double>() == doctest::Approx(0.443147).epsilon(1e-5));
}

TEST_CASE("the decoder mirrors the encoder: images come back at the VAE's size, any data size") {
  for (const auto& [data_side, vae_side] : std::vector<std::pair<int64_t, int>>{{48, 48}, {64, 48}, {32, 30}}) {
    VaeConfig config;  // rlkit's layers: kernels 5,3,3, strides 3,2,2
    config.network.image_size = vae_side;
    GoalVae vae(config, data_side, data_side, 3, torch::kCPU, 1);
    const torch::Tensor images = torch::randint(0, 256, {2, data_side, data_side, 3}, torch::kUInt8);
    const torch::Tensor latents = vae.Encode(images);
    CHECK(latents.sizes().vec() == std::vector<int64_t>{2, 16});
    const torch::Tensor decoded = vae.Decode(latents);
    CHECK(decoded.sizes().vec() == std::vector<int64_t>{2, vae_side, vae_side, 3});
    CHECK((decoded.scalar_type() == torch::kUInt8));
  }
  VaeConfig tiny;
  tiny.network.image_size = 8;
  testing::ExpectError([&] { GoalVae(tiny, 8, 8, 3, torch::kCPU, 1); }, ExitCode::kUsage,
                       "--vae.network.image-size is too small for the convs: layer 2 sees 2 pixels");
}

TEST_CASE("the density estimate ranks a frequent image above a rare one") {
  const torch::Tensor common = Square(16, 16, 2, 2, 6, 255, 40, 40);
  const torch::Tensor rare = Square(16, 16, 9, 8, 6, 40, 40, 255);
  GoalVae vae(Small(), 16, 16, 3, torch::kCPU, 3);
  at::Generator generator = at::detail::createCPUGenerator(4);
  // Batches of 32: 29 of the common image, 3 of the rare one (about 9:1).
  std::vector<torch::Tensor> rows(29, common);
  rows.insert(rows.end(), 3, rare);
  const torch::Tensor batch = torch::stack(rows);
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 150; ++step) {
    const VaeStepStats stats = vae.Step(batch, generator);
    if (step == 0) first = stats.loss;
    last = stats.loss;
  }
  CHECK(last < first);
  const torch::Tensor log_p = vae.LogDensity(torch::stack({common, rare}), generator);
  INFO("log p(common) " << log_p[0].item<double>() << ", log p(rare) " << log_p[1].item<double>());
  CHECK(log_p[0].item<double>() > log_p[1].item<double>());
  CHECK((log_p.scalar_type() == torch::kDouble));
  CHECK(std::isfinite(log_p[1].item<double>()));
}

TEST_CASE("save and load: the loaded VAE steps exactly as the saved one") {
  GoalVae saved(Small(), 16, 16, 3, torch::kCPU, 5);
  at::Generator generator = at::detail::createCPUGenerator(6);
  const torch::Tensor images = torch::randint(0, 256, {8, 16, 16, 3}, torch::kUInt8);
  for (int i = 0; i < 3; ++i) saved.Step(images, generator);
  CheckpointContents contents;
  saved.Save(&contents);
  contents.metadata["id"] = "test";
  const CheckpointContents parsed = ParseCheckpoint(SerializeCheckpoint(contents), "vae.ckpt");
  const std::unique_ptr<GoalVae> loaded = GoalVae::FromCheckpoint(parsed, torch::kCPU, "vae.ckpt");
  CHECK(loaded->steps() == 3);
  CHECK(loaded->config().network.ToJson() == Small().network.ToJson());
  at::Generator g1 = at::detail::createCPUGenerator(7), g2 = at::detail::createCPUGenerator(7);
  CHECK(saved.Step(images, g1).loss == loaded->Step(images, g2).loss);
  CHECK(torch::equal(saved.Encode(images), loaded->Encode(images)));
}

TEST_CASE("bad input: a VAE of another image shape or layers, a checkpoint without a VAE, a diverged loss") {
  GoalVae vae(Small(), 16, 16, 3, torch::kCPU, 5);
  CheckpointContents contents;
  vae.Save(&contents);
  GoalVae bigger(Small(), 32, 32, 3, torch::kCPU, 5);
  testing::ExpectError([&] { bigger.Load(contents, "vae.ckpt"); }, ExitCode::kBadData,
                       "vae.ckpt: the VAE was trained on 16x16x3 images, these are 32x32x3");
  GoalVae grey(Small(), 16, 16, 1, torch::kCPU, 5);
  testing::ExpectError([&] { grey.Load(contents, "vae.ckpt"); }, ExitCode::kBadData,
                       "trained on 16x16x3 images, these are 16x16x1");
  VaeConfig wider = Small();
  wider.network.latent_dim = 8;
  GoalVae other(wider, 16, 16, 3, torch::kCPU, 5);
  testing::ExpectError([&] { other.Load(contents, "vae.ckpt"); }, ExitCode::kBadData, "vae.ckpt: the VAE's layers are");
  VaeConfig bernoulli = Small();
  bernoulli.decoder = "bernoulli";
  GoalVae binary(bernoulli, 16, 16, 3, torch::kCPU, 5);
  testing::ExpectError([&] { binary.Load(contents, "vae.ckpt"); }, ExitCode::kBadData,
                       "vae.ckpt: the VAE's decoder is gaussian, this run's is bernoulli (--vae.decoder)");
  testing::ExpectError([&] { GoalVae::FromCheckpoint(CheckpointContents{}, torch::kCPU, "x.ckpt"); },
                       ExitCode::kBadData, "x.ckpt: the checkpoint holds no VAE");
  CheckpointContents newer = contents;
  newer.metadata["vae"]["vae_format"] = kVaeFormat + 1;
  testing::ExpectError([&] { vae.Load(newer, "vae.ckpt"); }, ExitCode::kBadData, "VAE format 2, this build reads 1");
  VaeConfig huge = Small();
  huge.lr = 1e30;  // the first step blows the weights up; the next loss is not finite
  GoalVae diverging(huge, 16, 16, 3, torch::kCPU, 5);
  at::Generator generator = at::detail::createCPUGenerator(1);
  const torch::Tensor images = torch::randint(0, 256, {4, 16, 16, 3}, torch::kUInt8);
  testing::ExpectError(
      [&] {
        for (int i = 0; i < 5; ++i) diverging.Step(images, generator);
      },
      ExitCode::kDiverged, "non-finite VAE loss at step");
}

TEST_CASE("invalid settings are usage errors naming the flag") {
  const auto check = [](const std::function<void(VaeConfig&)>& edit, const std::string& message) {
    VaeConfig c;
    edit(c);
    testing::ExpectError([&] { c.Validate("vae"); }, ExitCode::kUsage, message);
  };
  check([](VaeConfig& c) { c.alpha = 0.5; }, "--vae.alpha must be in [-1, 0]");
  check([](VaeConfig& c) { c.alpha = -2; }, "--vae.alpha must be in [-1, 0]");
  check([](VaeConfig& c) { c.beta = -1; }, "--vae.beta must be >= 0");
  check([](VaeConfig& c) { c.lr = 0; }, "--vae.lr must be positive");
  check([](VaeConfig& c) { c.skew_pool = 0; }, "--vae.skew-pool must be positive");
  check([](VaeConfig& c) { c.density_samples = 0; }, "--vae.density-samples must be in 1..1000");
  check([](VaeConfig& c) { c.network.kernels = {5, 3}; }, "--vae.network.kernels must give one kernel size per");
  check([](VaeConfig& c) { c.network.latent_dim = 0; }, "--vae.network.latent-dim must be in 1..1024");
  check([](VaeConfig& c) { c.image_key.clear(); }, "--vae.image-key must name an image observation");
  check([](VaeConfig& c) { c.decoder = "poisson"; }, "--vae.decoder must be gaussian or bernoulli, not 'poisson'");
}

}  // namespace
}  // namespace perpetua
