// SAC's networks, from state vectors or from pixels.
//
//   pixels:  images [B,H,W,3k] uint8 --(x/255 - 0.5, 3x3 convs + ReLU)--> flatten
//            --(Linear, LayerNorm, tanh)--> features [B,F]          (SacEncoder)
//            or, with keypoints K > 0: last map --(1x1 conv, spatial softmax)-->
//            keypoints [B,2K] in [-1,1] (F = 2K; SacNetworkConfig::keypoints)
//   input:   x = [features, vector observations]  [B,F+V]   (F = 0 from state)
//   actor:   x --(MLP, ReLU)--> mean [B,M], log_std [B,M]        (GaussianActor)
//            u = mean + exp(log_std) * noise; action = tanh(u) in [-1,1]^M
//            (M = A; with a discrete terminate (SacNetworkConfig::
//            discrete_terminate) M = A - 1 and a third output, the logit
//            [B] of terminating: the hybrid policy of sac_update.h)
//   critics: [x, action in [-1,1]] --(two MLPs, ReLU)--> Q [2,B]
//                                                                  (TwinCritic)
// The actor's actions live in [-1,1]^A; SacAgent rescales them to the
// env's action box and the data's actions back. The encoder belongs to the
// critics (the critic loss trains it); the actor reads its features detached.
//
// Parameters of each optimised group live in one contiguous buffer
// (FlatParameters), so an optimiser step and a Polyak update are a handful of
// tensor operations whatever the number of layers: at the sizes SAC uses on a
// CPU, per-operation dispatch, not arithmetic, is what costs.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "nn/checkpoint.h"
#include "sac/sac_config.h"
#include "nn/input_spec.h"

namespace perpetua {

class SacEncoderImpl : public torch::nn::Module {
 public:
  SacEncoderImpl(const SacNetworkConfig& config, const InputSpec& spec);
  // images [B,H,W,3k] uint8 -> features [B,EncoderOutputDim()] float32 in [-1,1].
  torch::Tensor forward(const torch::Tensor& images);

 private:
  std::vector<torch::nn::Conv2d> convs_;
  torch::nn::Linear fc_{nullptr};        // without keypoints
  torch::nn::LayerNorm norm_{nullptr};   // without keypoints
  torch::nn::Conv2d keypoint_conv_{nullptr};  // with keypoints
  torch::Tensor log_temperature_;             // with keypoints: the softmax's temperature exp(t), learnt
};
TORCH_MODULE(SacEncoder);

class GaussianActorImpl : public torch::nn::Module {
 public:
  // `stop_logit`: one more output, the logit of terminating.
  GaussianActorImpl(int64_t input_dim, const SacNetworkConfig& config, int64_t action_dim, bool stop_logit = false);
  // x [B,I] -> mean [B,A] and log_std [B,A] (squashed into [log_std_min,
  // log_std_max]), and with a stop logit, *logit [B] (`logit` may be null).
  void forward(const torch::Tensor& x, torch::Tensor* mean, torch::Tensor* log_std, torch::Tensor* logit = nullptr);

 private:
  double log_std_min_, log_std_max_;
  int64_t action_dim_;
  std::vector<torch::nn::Linear> layers_;
};
TORCH_MODULE(GaussianActor);

class TwinCriticImpl : public torch::nn::Module {
 public:
  TwinCriticImpl(int64_t input_dim, const SacNetworkConfig& config, int64_t action_dim);
  // x [B,I], action [B,A] in [-1,1] -> Q of both critics [2,B].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& action);

 private:
  // Two independent MLPs ("q1.fc0", ..., "q2.fc0", ...). (On a CPU, one
  // batched matmul over both is slower: baddbmm loops over the batch.)
  std::vector<torch::nn::Linear> layers_[2];
};
TORCH_MODULE(TwinCritic);

// A tanh-squashed Gaussian sample and its log-density.
struct SquashedSample {
  torch::Tensor action;    // [B,A] tanh(u) in [-1,1]
  torch::Tensor log_prob;  // [B] log pi(action|s) = sum over A of log N(u; mean, std) - log(1 - tanh(u)^2)
};
// u = mean + exp(log_std) * noise (noise [B,A] standard normal). The
// change-of-variables term uses log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)),
// exact and finite for any u.
SquashedSample SampleSquashed(const torch::Tensor& mean, const torch::Tensor& log_std, const torch::Tensor& noise);

// How an actor acts.
enum class SacActionMode {
  kSample,  // a ~ pi(.|s): collection (exploration comes from the policy itself)
  kMean,    // tanh(mean): evaluation
};

// The component of the action that the policy chooses discretely (the
// spec's terminate component when the network asks for it), or -1.
int64_t DiscreteTerminateIndex(const SacNetworkConfig& network, const InputSpec& spec);
// The actor for `spec`: a Gaussian over every component, or over all but
// the terminate component plus its logit (DiscreteTerminateIndex >= 0).
GaussianActor MakeActor(int64_t input_dim, const SacNetworkConfig& network, const InputSpec& spec);

// The acting half of SAC: the encoder (pixels; null from state), the actor
// and the env's action box. Modules are shared handles (a learner's live
// networks or a loaded policy's).
struct SacActing {
  SacEncoder encoder{nullptr};
  GaussianActor actor{nullptr};
  torch::Tensor center, scale;  // [A] on the networks' device: box = center + scale * [-1,1]
  // The discretely chosen terminate component, or -1. With it, kSample
  // terminates with probability sigmoid(logit) (one uniform draw per row
  // after the Gaussian noise), kMean when the logit is > 0; a terminating
  // action is the canonical one (CanonicalTerminate, sac_update.h) and a
  // moving one has the component at its lower bound.
  int64_t terminate_index = -1;
  // Env actions [B,A] for images [B,H,W,3k] (undefined from state) and
  // vectors [B,V], without gradient; kSample draws the noise from `generator` (CPU).
  torch::Tensor Act(const torch::Tensor& images, const torch::Tensor& vectors, SacActionMode mode,
                    at::Generator& generator) const;
};

// The parameters of some modules moved into one contiguous buffer: each
// parameter becomes a view of `values` and its gradient a view of `grads`,
// so backward() accumulates straight into `grads`. Save/load the group by
// `values` (nn::Module's own load would rebind the views).
class FlatParameters {
 public:
  FlatParameters() = default;
  explicit FlatParameters(const std::vector<torch::Tensor>& parameters);
  const torch::Tensor& values() const { return values_; }  // [N]
  const torch::Tensor& grads() const { return grads_; }    // [N]
  const std::vector<torch::Tensor>& parameters() const { return parameters_; }
  void ZeroGrad() { grads_.zero_(); }

 private:
  torch::Tensor values_, grads_;
  std::vector<torch::Tensor> parameters_;
};

// Adam (Kingma & Ba; the same arithmetic as torch::optim::Adam without
// weight decay) over one FlatParameters group.
class FlatAdam {
 public:
  FlatAdam() = default;
  FlatAdam(const FlatParameters& group, double learning_rate, double eps);
  // One step on the group's current gradients.
  void Step();
  int64_t steps() const { return steps_; }
  // The moments and step count, for checkpoints: [2,N] moments and the count.
  torch::Tensor Moments() const { return torch::stack({m_, v_}); }
  void Restore(const torch::Tensor& moments, int64_t steps);

 private:
  torch::Tensor values_, grads_, m_, v_;
  double learning_rate_ = 0.0, eps_ = 0.0;
  int64_t steps_ = 0;
};

// Blob `name` of `contents`: a float32 tensor of at least `numel` values
// written by TensorToBytes(FlatParameters::values()); copies its first
// `numel` values into `out` (a buffer or a slice of one). Throws
// Error(kBadData) "<source>: ..." when missing or smaller.
void LoadFlatBlob(const CheckpointContents& contents, const std::string& name, const torch::Tensor& out,
                  const std::string& source);

}  // namespace perpetua
