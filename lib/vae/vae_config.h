// The settings of rl-goals' VAE: a convolutional beta-VAE over the images the
// robot has seen (RIG, Nair, Pong et al. 2018), trained on images drawn with
// weights proportional to p(x)^alpha (Skew-Fit, Pong, Dalal et al. 2020;
// alpha = 0 is RIG). Defaults are rlkit's Skew-Fit door values (DESIGN.md:
// 48x48 images, convs 16,32,64 with kernels 5,3,3 and strides 3,2,2, latent
// 16, beta 20, 10 latent samples per density estimate). Torch-free.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config.h"
#include "train/training_run.h"

namespace perpetua {

inline constexpr const char* kVaeAlgorithm = "vae";  // a VAE checkpoint's "algorithm"
inline constexpr int kVaeFormat = 1;                 // metadata "vae_format"

// The VAE's layers and the images it reads (saved in every VAE checkpoint).
struct VaeNetworkConfig {
  int image_size = 48;  // images are resized to image_size x image_size before encoding
  std::vector<int> channels = {16, 32, 64};
  std::vector<int> kernels = {5, 3, 3};
  std::vector<int> strides = {3, 2, 2};
  int latent_dim = 16;
  void Visit(ConfigVisitor& v) {
    v.Field("image_size", image_size, "side of the square images the VAE reads and writes (data images are resized)");
    v.Field("channels", channels, "channels of each encoder conv (the decoder mirrors them)");
    v.Field("kernels", kernels, "kernel size of each encoder conv");
    v.Field("strides", strides, "stride of each encoder conv");
    v.Field("latent_dim", latent_dim, "size of the latent space");
  }
  nlohmann::json ToJson() const;
  // Throws Error(kBadData) "<source>: ..." on missing or invalid fields.
  static VaeNetworkConfig FromJson(const nlohmann::json& json, const std::string& source);
  // Throws Error(kUsage) naming the flag under `flag_prefix` ("vae.network").
  void Validate(const std::string& flag_prefix) const;
  // Side of each encoder conv's output, first to last (the decoder's inputs in reverse).
  std::vector<int> FeatureSides() const;
};

// The VAE's training (rl-goals fit).
struct VaeConfig {
  VaeNetworkConfig network;
  std::string image_key = "image";  // the observation the VAE reads (uint8 [H,W,C])
  // The decoder's likelihood of each pixel value x in [0,1] given its mean m = sigmoid(output):
  // "gaussian", N(x; m, 1) (rlkit's Skew-Fit: "gaussian_identity_variance"), or "bernoulli", the
  // Bernoulli cross-entropy of x against m. Its log-density sums over pixels: the Bernoulli's spread
  // over images is hundreds of nats, so p(x)^alpha puts all the weight on one image of the pool;
  // the unit Gaussian's is tens.
  std::string decoder = "gaussian";
  double beta = 20.0;               // weight of the KL term (beta-VAE)
  double lr = 1e-3;                 // Adam step size
  // Skew-Fit: training images are drawn with weights proportional to p(x)^alpha, p the VAE's
  // importance-sampled density estimate; alpha = 0 is RIG (uniform), alpha in [-1, 0) skews toward
  // rarely seen images. The weights are computed over a pool of images drawn uniformly from the data
  // and recomputed every skew_refresh updates (rlkit recomputes them once per epoch over its buffer).
  double alpha = -1.0;
  int skew_pool = 2048;       // images in the pool the skewed batches are drawn from
  int skew_refresh = 200;     // updates between recomputations of the pool and its densities
  int64_t skew_warmup = 500;  // updates of uniform sampling before skewing starts
  int density_samples = 10;   // latent samples per image of the density estimate
  // Tempering (not in rlkit): when p^alpha's effective sample size falls below this share of the pool,
  // the exponent moves toward 0 until it holds (vae/skew.h). 0: the skew as it is. On the door, p^-1
  // gave one image of 2,048 all the weight; 0.1 took held-out reaching from 15.5% to 77.0% (docs/goals.md).
  double skew_min_ess = 0.1;
  void Visit(ConfigVisitor& v) {
    v.Group("network", network, "VAE layers");
    v.Field("image_key", image_key, "the image observation the VAE reads");
    v.Field("decoder", decoder,
            "likelihood of each pixel given the decoder's mean: gaussian (unit variance, rlkit's Skew-Fit) or "
            "bernoulli");
    v.Field("beta", beta, "weight of the KL term (beta-VAE)");
    v.Field("lr", lr, "Adam learning rate");
    v.Field("alpha", alpha,
            "Skew-Fit exponent: training images drawn with weights p(x)^alpha; 0 = RIG (uniform), -1 = the "
            "strongest skew toward rare images; must be in [-1, 0]");
    v.Field("skew_pool", skew_pool, "images drawn uniformly from the data whose densities weight the skewed batches");
    v.Field("skew_refresh", skew_refresh, "updates between redraws of the pool and its density estimates");
    v.Field("skew_warmup", skew_warmup, "updates with uniform sampling before skewing starts");
    v.Field("density_samples", density_samples, "latent samples per image in the importance-sampled density");
    v.Field("skew_min_ess", skew_min_ess,
            "temper the skew so that its effective sample size stays at least this share of the pool, in [0, 1] "
            "(0: p(x)^alpha as it is)");
  }
  // Throws Error(kUsage) naming the flag under `flag_prefix` ("vae").
  void Validate(const std::string& flag_prefix) const;
};

// rl-goals fit: the one training run's flags (--data, --online, --out, --steps, --batch-size, ...)
// and the VAE's under "vae" (--vae.alpha, --vae.network.latent-dim, ...).
struct VaeTrainConfig : TrainRunConfig {
  VaeConfig vae;
  VaeTrainConfig() { batch_size = 128; }  // rlkit's VAE batch
  void Visit(ConfigVisitor& v) {
    TrainRunConfig::Visit(v);
    v.Group("vae", vae, "the VAE and its skewed sampling");
  }
};

}  // namespace perpetua
