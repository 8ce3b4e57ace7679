// rl-goals' VAE: a convolutional beta-VAE over the robot's images (RIG /
// Skew-Fit), its loss, its importance-sampled density estimate, and the VAE
// with its optimiser as the learner and the goal sampler share it.
//
//   image [B,H,W,C] uint8 --VaeInput: /255, bilinear resize--> x [B,C,S,S] in [0,1]
//   encoder: per conv entry (kernel k, stride s, no padding) + ReLU --> flatten
//            --> Linear --> mean [B,L], log_var [B,L]
//   decoder: z [B,L] --> Linear + ReLU --> [B,C_last,s_last,s_last] --> the convs mirrored as
//            transposed convs (ReLU between; output padding so each side matches the encoder's input)
//            --> logits [B,C,S,S]
//
// Likelihood (VaeConfig::decoder) of each pixel value x in [0,1] given the
// decoder's mean m = sigmoid(output), summed over pixels:
//   gaussian:  log p(x|z) = -1/2 sum ((x - m)^2 + log 2 pi)   (unit variance, rlkit's Skew-Fit)
//   bernoulli: log p(x|z) = -sum BCE(output, x)
//   KL(q(z|x) || N(0,I)) = 1/2 sum over latents (mean^2 + exp(log_var) - 1 - log_var)
//   loss = mean over images (-log p(x|z) + beta KL),  z = mean + exp(log_var/2) eps
// Density (Skew-Fit's p-hat): log p(x) ~ logsumexp_k [log p(x|z_k) + log N(z_k; 0, I)
//   - log q(z_k|x)] - log K with z_k ~ q(z|x), K samples.
// Every random draw comes from the caller's generator. Include only from
// LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/collective.h"
#include "nn/checkpoint.h"
#include "vae/vae_config.h"

namespace perpetua {

class ConvVaeImpl : public torch::nn::Module {
 public:
  // `channels`: of the images it reads (3 for RGB).
  ConvVaeImpl(const VaeNetworkConfig& config, int64_t channels);
  // x [B,C,S,S] in [0,1] -> mean, log_var [B,L].
  void Encode(const torch::Tensor& x, torch::Tensor* mean, torch::Tensor* log_var);
  // z [B,L] -> logits [B,C,S,S].
  torch::Tensor Decode(const torch::Tensor& z);

 private:
  VaeNetworkConfig config_;
  int64_t channels_;
  std::vector<torch::nn::Conv2d> encoder_;
  torch::nn::Linear to_latent_{nullptr}, from_latent_{nullptr};
  std::vector<torch::nn::ConvTranspose2d> decoder_;
};
TORCH_MODULE(ConvVae);

// uint8 [B,H,W,C] (any device) -> float32 [B,C,side,side] in [0,1], resized
// bilinearly when H or W differ from side.
torch::Tensor VaeInput(const torch::Tensor& images, int64_t side);

// log p(x|z) [B] of targets x [B,...] in [0,1] given the decoder's outputs
// [B,...] (pre-sigmoid), under `decoder` ("gaussian" or "bernoulli").
torch::Tensor DecoderLogLikelihood(const torch::Tensor& x, const torch::Tensor& outputs, const std::string& decoder);

// Per-image terms of the ELBO [B]: DecoderLogLikelihood, and the closed-form
// KL of N(mean, exp(log_var)) to N(0, I).
struct ElboTerms {
  torch::Tensor log_likelihood, kl;
};
ElboTerms ComputeElboTerms(const torch::Tensor& x, const torch::Tensor& outputs, const torch::Tensor& mean,
                           const torch::Tensor& log_var, const std::string& decoder);
// mean over images of (-log_likelihood + beta * kl).
torch::Tensor VaeLoss(const ElboTerms& terms, double beta);

// Figures of one VAE step.
struct VaeStepStats {
  double loss = 0.0;            // before the step
  double log_likelihood = 0.0;  // mean log p(x|z) per image
  double kl = 0.0;              // mean KL per image
};

// The VAE with its Adam: what rl-goals fit trains and rl-goals sample (and a
// goal-conditioned learner) reads.
class GoalVae {
 public:
  // Fresh weights drawn from `seed`; it reads uint8 images of data_height x
  // data_width x channels. Throws Error(kUsage) for a bad config.
  GoalVae(const VaeConfig& config, int64_t data_height, int64_t data_width, int64_t channels,
          const torch::Device& device, uint64_t seed);

  // One Adam step on images [B,H,W,C] uint8. Throws Error(kDiverged)
  // "non-finite VAE loss at step N".
  VaeStepStats Step(const torch::Tensor& images, at::Generator& generator);
  // Importance-sampled log p(x) [B] (CPU float64) of images [B,H,W,C] uint8,
  // density_samples latent samples each, without gradient, 256 at a time.
  torch::Tensor LogDensity(const torch::Tensor& images, at::Generator& generator);
  // Posterior means [B,L] (CPU float32) of images [B,H,W,C] uint8: the latent a goal or state is compared in.
  torch::Tensor Encode(const torch::Tensor& images);
  // Decoded images [B,side,side,C] uint8 (the pixels' means) of latents [B,L].
  torch::Tensor Decode(const torch::Tensor& latents);

  // Data-parallel training (dist/collective.h): Step averages the gradients
  // over the ranks. Null (the default): one process.
  void SetCollective(Collective* collective) { collective_ = collective; }
  // The network's parameters and buffers: identical on every rank.
  std::vector<torch::Tensor> ReplicatedState();

  int64_t steps() const { return steps_; }
  const VaeConfig& config() const { return config_; }
  int64_t data_height() const { return data_height_; }
  int64_t data_width() const { return data_width_; }
  int64_t channels() const { return channels_; }

  // Metadata "vae" {"vae_format", "network", "image_key", "decoder", "data_height",
  // "data_width", "channels", "beta", "steps"} and blobs "vae.net", "vae.adam".
  void Save(CheckpointContents* contents);
  // Restores what Save wrote into a VAE of the same layers and image shape.
  // Error(kBadData) "<source>: ..." naming what differs.
  void Load(const CheckpointContents& contents, const std::string& source);
  // A VAE of the layers and image shape a checkpoint records (weights and
  // optimiser loaded). Error(kBadData) "<source>: ..." when it holds none.
  static std::unique_ptr<GoalVae> FromCheckpoint(const CheckpointContents& contents, const torch::Device& device,
                                                 const std::string& source);

 private:
  torch::Tensor Input(const torch::Tensor& images) const;

  VaeConfig config_;
  int64_t data_height_, data_width_, channels_;
  torch::Device device_;
  ConvVae net_{nullptr};
  std::unique_ptr<torch::optim::Adam> adam_;
  int64_t steps_ = 0;
  Collective* collective_ = nullptr;
};

// The VAE of a checkpoint file (rl-goals fit's). Error(kBadData) "<path>: ...".
std::unique_ptr<GoalVae> LoadVaeCheckpoint(const std::string& path, const torch::Device& device);

}  // namespace perpetua
