// The settings of VICE (Fu et al. 2018, "Variational Inverse Control with
// Events"; Singh et al. 2019, "End-to-End Robotic Reinforcement Learning
// without Reward Engineering"): a success classifier D(s) trained on example
// images of success (positives) against the robot's own states (negatives),
// whose logit is the reward. Defaults are the official code's (DESIGN.md:
// batch 128 + 128, mixup alpha 1, two 5x5 convs of 8 filters with max-pool,
// 256 features, Adam 3e-4). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"

namespace perpetua {

inline constexpr const char* kViceAlgorithm = "vice";  // a classifier checkpoint's "algorithm"
inline constexpr int kViceFormat = 1;                  // metadata "vice_format"

// The classifier's layers (saved in every checkpoint that holds one).
struct ViceNetworkConfig {
  std::vector<int> conv_channels = {8, 8};  // one 5x5 conv (padding 2) + ReLU + 2x2 max-pool per entry
  int hidden = 256;                         // the fully connected layer before the logit
  void Visit(ConfigVisitor& v) {
    v.Field("conv_channels", conv_channels, "channels of each 5x5 conv (each followed by a 2x2 max-pool)");
    v.Field("hidden", hidden, "width of the fully connected layer before the logit");
  }
  nlohmann::json ToJson() const;
  // Throws Error(kBadData) "<source>: ..." on missing or invalid fields.
  static ViceNetworkConfig FromJson(const nlohmann::json& json, const std::string& source);
  // Throws Error(kUsage) naming the flag under `flag_prefix` ("vice.network").
  void Validate(const std::string& flag_prefix) const;
};

// The classifier's training (rl-label train, and rl-train --reward vice).
struct ViceClassifierConfig {
  ViceNetworkConfig network;
  double lr = 3e-4;          // Adam step size
  int positives = 128;       // example images per classifier step (drawn with replacement)
  int negatives = 128;       // the robot's states per classifier step
  double mixup_alpha = 1.0;  // mixup (Zhang et al. 2018): lambda ~ Beta(alpha, alpha) per pair; 0: off
  int augment_shift = 4;     // random shift of training images by up to N pixels (0: off)
  double holdout = 0.1;      // share of the examples held back to measure accuracy (never trained on)
  void Visit(ConfigVisitor& v) {
    v.Group("network", network, "classifier layers");
    v.Field("lr", lr, "classifier Adam learning rate");
    v.Field("positives", positives, "example images (positives) per classifier step");
    v.Field("negatives", negatives, "robot states (negatives) per classifier step");
    v.Field("mixup_alpha", mixup_alpha, "mixup: mixing weight ~ Beta(alpha, alpha) (0: no mixup)");
    v.Field("augment_shift", augment_shift, "random shift of classifier training images by up to N pixels (0: off)");
    v.Field("holdout", holdout, "share of the examples held back to measure the classifier's accuracy");
  }
  // Throws Error(kUsage) naming the flag under `flag_prefix`.
  void Validate(const std::string& flag_prefix) const;
};

// VICE inside a training run: rl-train <learner> --reward vice --vice.examples DIR.
struct ViceConfig {
  std::string examples;        // example images of success: a folder of PNG/JPEG files, or of shards
  ViceClassifierConfig classifier;
  int train_every = 20;        // one classifier step every N learner updates (the official code: 1 per 100 environment steps)
  // Where the classifier's negatives come from: false, a batch of the run's
  // mix (offline and online halves: all the robot did, as the official code
  // samples its whole replay pool); true, the online rows of a batch twice
  // that size (the policy's newest states; offline rows fill in while the
  // online buffer has fewer).
  bool online_negatives = false;
  // Active queries (RAQ): a question each time query_every new environment
  // steps have arrived online (0: no questions), about the state the
  // classifier rated most likely a success among the online states drawn
  // since the last question. vice/query_queue.h is the queue's layout.
  int64_t query_every = 0;
  int64_t max_queries = 0;     // the person's budget: no question once the folder holds this many (0: no limit)
  std::string queries;         // the question folder ("": <--out>/queries)
  std::string oracle;          // "": a person answers; "cell": the data's own success signal answers at once
  void Visit(ConfigVisitor& v) {
    v.Field("examples", examples,
            "example images of success: a folder of PNG/JPEG files, or a dataset folder whose successful "
            "episodes' last frames are the examples");
    v.Group("classifier", classifier, "the success classifier");
    v.Field("train_every", train_every, "one classifier step every N learner updates");
    v.Field("online_negatives", online_negatives,
            "draw the classifier's negatives from the online buffer (the policy's newest states) instead of "
            "the run's offline/online mix");
    v.Field("query_every", query_every,
            "ask a person about a state each time N new environment steps have arrived online (0: never; "
            "push: 500 = every 10 episodes)");
    v.Field("max_queries", max_queries,
            "ask no more once the question folder holds N questions, over resumes (the person's budget; 0: no "
            "limit)");
    v.Field("queries", queries, "the question folder (default: <--out>/queries)");
    v.Field("oracle", oracle,
            "answer the questions at once, for experiments: cell = the success the cell recorded with the data "
            "(its reward of the step into the state); empty: a person answers");
  }
  void Validate() const;  // Error(kUsage) naming "--vice.*"
};

// Where a training run's rewards come from (every learner's verb has these).
struct RewardSettings {
  std::string reward = "env";  // "env": the data's rewards; "vice": a classifier learnt beside the learner
  ViceConfig vice;
  void Visit(ConfigVisitor& v) {
    v.Field("reward", reward,
            "where rewards come from: env (the rewards stored with the data) or vice (a success classifier "
            "learnt from --vice.examples beside the learner; the data on disk is never rewritten)");
    v.Group("vice", vice, "VICE: rewards from a success classifier (with --reward vice)");
  }
  // Error(kUsage) for an unknown --reward, or --reward vice without --vice.examples.
  void Validate() const;
};

}  // namespace perpetua
