// What a learner supplies to the one training run (train/training_run.h).
//
// The run owns everything generic: the output directory and its lock, the
// offline data and online sources (replay/), the sampling mix, the run's
// random streams, resume state, checkpoint files and rotation, the metrics
// window, signals and the NaN guard's message. A learner owns only its
// networks, optimisers and update:
//
//   run:      validate run + learner config (learner.Validate())
//             open data, wait for transitions, derive the data's EnvSpec
//             learner.Build(setup, start, checkpoint)   fresh | resume | init
//             loop: result = learner.Update(rng, generator)   (+ metrics window)
//                   every K steps: learner.Save(&contents) + run fields -> ckpt
//             learner.Stop(); final checkpoint
//
// A checkpoint is the learner's Save() plus what the run adds:
//   metadata "algorithm" (= algorithm(): picks the policy loader, see
//   policies/checkpoint_policy.h), "id", "seed", "env_spec", "config_yaml",
//   "created_unix"; blobs "trainer.state" (sampling Rng, online shards, run id)
//   and "trainer.generator" (the torch generator's state).
// Save() adds "step" and everything else it needs for a bit-exact resume
// (networks, target networks, optimisers, temperature, counters) and for the
// policy it exports (policy networks, input spec, a "<algorithm>_format"
// number and an example input/output checked on load).
//
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"
#include "dist/collective.h"
#include "env/env.h"
#include "nn/checkpoint.h"
#include "replay/replay_mix.h"

namespace perpetua {

// One figure of one update, reduced over the metrics window.
struct Metric {
  enum class Reduce { kMean, kMin, kMax };
  std::string name;  // metrics.jsonl key / metrics.csv column ("loss", "q_mean", "alpha", ...)
  double value = 0.0;
  Reduce reduce = Reduce::kMean;
};

// What one Update() reports.
struct UpdateResult {
  std::vector<Metric> metrics;  // same names in the same order every update (they fix the CSV columns)
  int batch_size = 0;           // transitions trained on (for the online share)
  int online_count = 0;         // of which from the online buffer
  double wait_seconds = 0.0;    // time spent obtaining the batch (sampling, or waiting for workers);
                                // the rest of Update's wall time counts as update time
};

// How Build() starts.
enum class LearnerStart {
  kFresh,   // new weights from setup.seed
  kResume,  // exactly the state Save() wrote (networks, optimisers, counters)
  kInit,    // the checkpoint's policy networks; fresh optimiser state, step 0
};

// What the run hands a learner to build on.
struct LearnerSetup {
  EnvSpec data_spec;                    // the data's observations and action box (learner checks its needs)
  std::string data_source;              // names the data in errors ("DIR" or "online data")
  torch::Device device{torch::kCPU};    // networks live here
  uint64_t seed = 0;                    // the run's seed (derive learner streams from it)
  int batch_size = 0;                   // the run's --batch-size
  BatchSource* batches = nullptr;       // the run's replay mix; outlives the learner (thread-safe)
  std::string out_dir;                  // the run's --out folder: a learner may keep files of its own in it
  // Data-parallel runs (dist/collective.h): the ranks' collective, null in one
  // process. batch_size is then this rank's share of --batch-size, and the
  // learner averages its gradients with it after every backward pass (and
  // any figure that drives an update, e.g. SAC's entropy for the temperature),
  // so that every rank takes the same step. Per-row noise comes from
  // nn/row_draws.h.
  Collective* collective = nullptr;
};

class Learner {
 public:
  virtual ~Learner() = default;

  // The checkpoint's "algorithm" ("qtopt", "sac").
  virtual std::string algorithm() const = 0;

  // Checks the learner's own settings. Throws Error(kUsage) naming the flag
  // ("--cem.elites must be ..."). Called before anything is opened.
  virtual void Validate() const = 0;

  // Threads the learner runs beside the trainer thread (e.g. Bellman-target
  // workers). With --threads 0 the trainer gets the cores these leave.
  virtual int helper_threads() const { return 0; }

  // Builds the networks for setup.data_spec and, for kResume/kInit, loads
  // `checkpoint` (read from `checkpoint_path`; null for kFresh). Starts any
  // helper threads. Throws Error(kBadData) "<source>: ..." when the data does
  // not fit the learner (observation keys, image keys, action box) or the
  // checkpoint does not fit the data or the configured sizes.
  virtual void Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
                     const std::string& checkpoint_path) = 0;

  // One training step: draws batch(es) from setup.batches (with `rng` when
  // sampling inline) and updates the networks; `generator` (CPU) is for the
  // learner's torch randomness (augmentation, CEM, policy noise). Both are the
  // run's streams, saved with every checkpoint. Throws Error(kDiverged)
  // "non-finite ..." when a loss, gradient or parameter is NaN/Inf (the state
  // must not be saved afterwards), Error(kBadData) for data that does not fit.
  virtual UpdateResult Update(Rng& rng, at::Generator& generator) = 0;

  // Training steps taken (restored by kResume, 0 after kInit).
  virtual int64_t step() const = 0;

  // Adds the learner's state and policy to `contents` (see the file comment).
  virtual void Save(CheckpointContents* contents) = 0;

  // One line for the start log: "553 346 parameters, 1 target worker(s)".
  virtual std::string Describe() = 0;

  // Stops helper threads (before the run's last checkpoint). Idempotent.
  virtual void Stop() {}

  // Data-parallel runs: every tensor that all ranks must hold identically
  // (parameters, target networks, temperature), for the run's checksums
  // across ranks. Empty: the learner cannot train data-parallel, and a run
  // with several ranks refuses it (Error(kUsage)).
  virtual std::vector<torch::Tensor> ReplicatedState() { return {}; }
};

// A learner that adds to an inner one (VICE's reward classifier, Skew-Fit's
// goal VAE) and trains it on batches it rewrites: the checkpoint's algorithm,
// the helper threads, the step count and Stop are the inner learner's. The
// inner learner reads a BatchSource that the wrapper owns, so a wrapper's
// destructor calls Stop() first: no helper thread outlives that source.
class WrappingLearner : public Learner {
 public:
  explicit WrappingLearner(std::unique_ptr<Learner> inner) : inner_(std::move(inner)) {}
  std::string algorithm() const override { return inner_->algorithm(); }
  int helper_threads() const override { return inner_->helper_threads(); }
  int64_t step() const override { return inner_->step(); }
  void Stop() override { inner_->Stop(); }

 protected:
  std::unique_ptr<Learner> inner_;
};

}  // namespace perpetua
