// The QT-Opt Q-function Q(image, proprio, action) -> logit of P(success).
//
//   image [B,H,W,3] uint8 --(x/255 - 0.5, conv stride 2 + ReLU per encoder layer)--> E [B,C,h,w]
//   [action, proprio] [B,A+P] --(MLP)--> m [B,C], broadcast-added: relu(E + m) [B,C,h,w]
//   --(head convs, stride 2)--> flatten --(FC hidden, ReLU)--> FC 1 --> logit [B]
// or, with config.keypoints = K > 0 (spatial softmax, as in Levine et al.'s
// visuomotor policies and robomimic's image encoders):
//   E --(1x1 conv to K channels, softmax over each channel's map)--> expected
//   (x, y) per channel = keypoints [B,2K] (the "embedding")
//   relu(W_s [keypoints, proprio] + W_a action) --(FC hidden, ReLU)--> FC 1 --> logit [B]
// Q = sigmoid(logit) in [0,1]; training uses cross-entropy on [0,1] targets.
//
// The image embedding E depends on the state only, so CEM computes it once
// per state and evaluates many actions through Head() alone, or through
// Scores(): the population of every state in one batched call, E broadcast
// rather than copied per action (bench_qtopt_speed, docs/train.md).
//
// Terminating actions (spec().terminate_index, nn/input_spec.h) are one
// action whatever their other components: Head() replaces every action whose
// terminate component is > 0 by the canonical one (terminate = its upper
// bound, every other component the middle of its range) before reading it,
// so the data's many copies of "terminate here" train one value and CEM
// cannot pick among copies that differ only by the network's noise. Scores()
// does the same.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "env/env.h"
#include "nn/input_spec.h"
#include "qtopt/qtopt_config.h"

namespace perpetua {


// What the QT-Opt network reads (nn/input_spec.h) with exactly one image.
struct QInputSpec : InputSpec {
  const std::string& image_key() const { return image_keys.front(); }

  // InputSpec::FromEnvSpec, then Error(kBadData) "<source>: QT-Opt takes one
  // image but the data has two ('a' and 'b')" or "...: QT-Opt needs an
  // [H,W,3] uint8 image observation" unless there is exactly one image.
  static QInputSpec FromEnvSpec(const EnvSpec& spec, const std::string& source);
  // InputSpec::FromJson with the same one-image check.
  static QInputSpec FromJson(const nlohmann::json& json, const std::string& source);
};

class QNetworkImpl : public torch::nn::Module {
 public:
  QNetworkImpl(const QNetworkConfig& config, const QInputSpec& spec);
  // Trainable scalars such a network has, computed without building it
  // (saturates at UINT64_MAX): loaders check it against the stored weights.
  static uint64_t ParameterCount(const QNetworkConfig& config, const QInputSpec& spec);

  // image [B,H,W,3] uint8 -> the encoder's input [B,3,H,W] float32 (x/255 - 0.5)
  // in channels-last memory (a permuted view of one NHWC buffer: no permute
  // copy). Convert once and pass it to EmbedNormalized for every network
  // that reads the same images.
  static torch::Tensor Normalize(const torch::Tensor& image);
  // Normalize(image) [B,3,H,W] -> embedding [B,C,h,w] float32 ([B,2K] keypoints
  // when config.keypoints = K > 0; callers pass it on to Head/Scores unread).
  torch::Tensor EmbedNormalized(const torch::Tensor& normalized);
  // image [B,H,W,3] uint8 -> embedding [B,C,h,w] float32: EmbedNormalized(Normalize(image)).
  torch::Tensor Embed(const torch::Tensor& image);
  // embedding [B,C,h,w], proprio [B,P] float32, action [B,A] float32 -> logits [B].
  torch::Tensor Head(const torch::Tensor& embedding, const torch::Tensor& proprio,
                     const torch::Tensor& action);
  // Inference only (asserts that grad mode is off; run it under
  // c10::InferenceMode): embedding [B,C,h,w], proprio [B,P], actions [B,N,A]
  // -> logits [B,N], what Head would give for each state's N actions with
  // the embedding repeated N times, up to float rounding (on the CPU the
  // linear layers run through oneDNN, whose sums are ordered differently).
  torch::Tensor Scores(const torch::Tensor& embedding, const torch::Tensor& proprio, const torch::Tensor& actions);
  // action [B,A] with its terminating rows replaced by the canonical one (see above).
  torch::Tensor CanonicalActions(const torch::Tensor& action);
  // Embed + Head -> logits [B].
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& proprio,
                        const torch::Tensor& action);

  // The action box [A] float32 on the CPU, for CEM (CemMaximize moves it to the device).
  const torch::Tensor& action_low() const { return action_low_; }
  const torch::Tensor& action_high() const { return action_high_; }

  const QNetworkConfig& config() const { return config_; }
  const QInputSpec& spec() const { return spec_; }

 private:
  QNetworkConfig config_;
  QInputSpec spec_;
  torch::nn::ModuleList encoder_{nullptr};
  torch::nn::Sequential action_mlp_{nullptr};
  torch::nn::ModuleList head_convs_{nullptr};
  torch::nn::Linear fc_{nullptr}, out_{nullptr};
  // action_mlp_'s two layers (keypoint layout: action_in_ alone, the action term of the first layer)
  torch::nn::Linear action_in_{nullptr}, action_out_{nullptr};
  torch::Tensor action_low_, action_high_;  // from spec_, made once (not module state)
  torch::Tensor canonical_terminate_;
  // Keypoint layout only (config.keypoints > 0).
  torch::nn::Conv2d keypoint_conv_{nullptr};
  torch::Tensor log_temperature_;  // softmax temperature exp(t), learnt
  torch::nn::Linear state_in_{nullptr};
  // keypoints [B,2K], proprio [B,P] -> the first layer's state term [B,hidden].
  torch::Tensor StateInput(const torch::Tensor& keypoints, const torch::Tensor& proprio);  // [1,A] CPU, when the spec has a terminate component (not a parameter)
};
TORCH_MODULE(QNetwork);

// A fresh network with the same config/spec and (deep) copied state.
QNetwork CloneNetwork(QNetworkImpl& network, const torch::Device& device);

// Number of trainable scalars.
int64_t CountParameters(torch::nn::Module& module);

}  // namespace perpetua
