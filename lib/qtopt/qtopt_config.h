// The settings of `rl-train q`, one struct per QT-Opt component (each
// validated by the component that uses it) on top of the run's. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "train/training_run.h"

namespace perpetua {

// Network sizes (saved in every checkpoint; a checkpoint loads only into the same sizes).
struct QNetworkConfig {
  std::vector<int> encoder_channels = {16, 32, 32, 32};  // one stride-2 conv per entry (first 5x5, rest 3x3)
  std::vector<int> head_channels = {};                    // stride-2 3x3 convs after the action merge
  int hidden = 64;                                        // width of the FC layer and of the action MLP
  // > 0: the image becomes that many keypoints (a 1x1 conv, then a spatial
  // softmax per channel gives its expected x, y), and an MLP reads
  // [keypoints, proprio, action]; head_channels must then be empty. 0: the
  // action merges into the conv map (QT-Opt's layout).
  int keypoints = 0;
  void Visit(ConfigVisitor& v) {
    v.Field("encoder_channels", encoder_channels, "channels of each stride-2 image conv layer");
    v.Field("head_channels", head_channels, "channels of each stride-2 conv after the action merge");
    v.Field("hidden", hidden, "width of the action MLP and the final fully connected layer");
    v.Field("keypoints", keypoints,
            "spatial-softmax keypoints read by an MLP head instead of merging the action into the map (0: off)");
  }
  nlohmann::json ToJson() const;
  // Throws Error(kBadData) "<source>: ..." on missing or invalid fields.
  static QNetworkConfig FromJson(const nlohmann::json& json, const std::string& source);
  // Throws Error(kUsage) naming `flag_prefix` on non-positive sizes.
  void Validate(const std::string& flag_prefix) const;
};

// CEM action maximisation (cem.h).
struct CemConfig {
  int iterations = 2;   // sampling rounds (QT-Opt: 2-3)
  int samples = 64;     // actions scored per state per round (QT-Opt: 32-64)
  int elites = 6;       // best samples that refit the Gaussian (QT-Opt: 4-6)
  double min_std = 0.02;  // floor on each action component's std, as a fraction of the box width
  void Visit(ConfigVisitor& v) {
    v.Field("iterations", iterations, "CEM rounds");
    v.Field("samples", samples, "actions sampled per state per round");
    v.Field("elites", elites, "best samples used to refit the sampling Gaussian");
    v.Field("min_std", min_std, "lower bound on the sampling std, as a fraction of the action range");
  }
  // Throws Error(kUsage) naming `flag_prefix` (e.g. "cem") on invalid values.
  void Validate(const std::string& flag_prefix) const;
};

// Bellman targets (bellman.h).
struct BellmanConfig {
  double gamma = 0.9;          // discount (QT-Opt: 0.9)
  double step_penalty = 0.0;   // subtracted from every reward (QT-Opt: 0.01..0.05 when the data has none)
  double tau = 0.01;           // Polyak rate of target network 1 towards the online network, per step
  int lag_steps = 100;         // target network 2 takes target 1's weights every lag_steps steps
  void Visit(ConfigVisitor& v) {
    v.Field("gamma", gamma, "discount factor");
    v.Field("step_penalty", step_penalty, "penalty subtracted from every reward");
    v.Field("tau", tau, "Polyak averaging rate of target network 1 per gradient step");
    v.Field("lag_steps", lag_steps, "target network 2 copies target network 1 every N steps");
  }
  // Throws Error(kUsage) naming `flag_prefix` on invalid values.
  void Validate(const std::string& flag_prefix) const;
};

// Optimiser (q_learner.h).
struct OptimizerConfig {
  double learning_rate = 1e-3;  // Adam step size
  double grad_clip = 10.0;      // max global gradient norm; 0 = no clipping
  // Conservative term (CQL): weight * mean over the batch of
  // logsumexp(logits of `conservative_samples` uniform random actions and the
  // data action) - logit of the data action. Pushes Q down on actions the data
  // never tried (e.g. "terminate here" where nobody grasped), which CEM would
  // otherwise find and exploit. 0 = plain QT-Opt.
  double conservative_weight = 0.0;
  int conservative_samples = 8;
  void Visit(ConfigVisitor& v) {
    v.Field("learning_rate", learning_rate, "Adam learning rate");
    v.Field("grad_clip", grad_clip, "clip the global gradient norm to this value (0: off)");
    v.Field("conservative_weight", conservative_weight,
            "CQL weight: push Q down on random actions relative to data actions (0: off)");
    v.Field("conservative_samples", conservative_samples, "random actions per state for the CQL term");
  }
  void Validate(const std::string& flag_prefix) const;
};

// Image augmentation of training batches (nn/image_augment.h); the
// policy acts on unshifted images.
struct AugmentConfig {
  int shift = 0;  // random shift by up to N pixels (DrQ uses 4 at 84x84); 0 = off
  void Visit(ConfigVisitor& v) {
    v.Field("shift", shift, "shift training images (state and next state) by up to N pixels (0: off)");
  }
  void Validate(const std::string& flag_prefix) const;
};

// Bellman-target workers (target_pipeline.h).
struct TargetWorkerConfig {
  int count = 1;          // Bellman-target worker threads; 0 = compute targets inline (deterministic)
  int threads = 1;        // intra-op threads of each worker
  int queue = 4;          // labelled batches buffered ahead of the trainer
  int publish_every = 10; // trainer steps between handing new target weights to the workers
  std::string listen;     // tcp://HOST:PORT: the workers are processes (qtopt/remote_targets.h); "": threads
  double timeout_s = 120.0;  // worker processes: seconds to wait for them (to connect, to label a batch)
  void Visit(ConfigVisitor& v) {
    v.Field("count", count, "Bellman-target workers (0: inline, deterministic)");
    v.Field("threads", threads, "intra-op threads per worker thread");
    v.Field("queue", queue, "labelled batches queued ahead of the trainer");
    v.Field("publish_every", publish_every, "steps between target-weight updates sent to the workers");
    v.Field("listen", listen,
            "tcp://HOST:PORT: the workers are processes ('rl-train q-targets --connect tcp://HOST:PORT --index I', "
            "on any machine) that meet the trainer here; empty: threads",
            FieldScope::kLocal);
    v.Field("timeout_s", timeout_s, "worker processes: seconds to wait for them to connect or to label a batch",
            FieldScope::kLocal);
  }
  void Validate(const std::string& flag_prefix) const;
};

// `rl-train q`: the run's settings (train/training_run.h) plus QT-Opt's groups.
struct QTrainConfig : TrainRunConfig {
  QNetworkConfig network;
  CemConfig cem;
  BellmanConfig target;
  OptimizerConfig optim;
  AugmentConfig augment;
  TargetWorkerConfig target_workers;

  void Visit(ConfigVisitor& v) {
    TrainRunConfig::Visit(v);
    v.Group("network", network, "Q-network sizes");
    v.Group("cem", cem, "CEM action maximisation");
    v.Group("target", target, "Bellman targets (clipped double Q, two lagged target networks)");
    v.Group("optim", optim, "optimiser");
    v.Group("augment", augment, "image augmentation of training batches");
    v.Group("target_workers", target_workers, "asynchronous Bellman-target workers");
  }
};

}  // namespace perpetua
