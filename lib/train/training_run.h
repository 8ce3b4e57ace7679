// One training run for every learner (rl-train q, rl-train sac): a resumable
// state machine over a Learner (train/learner.h).
//
//   TrainingRun run(config, effective_config_yaml, data_factory, learner);
//   run.Init();                 // lock, data, online source, learner (fresh, --init or --resume)
//   while (run.Step()) {}       // one learner update each; metrics and checkpoints every K steps
//   run.Finish();               // final checkpoint, returns the path of latest.ckpt
//
// Output directory (--out DIR):
//   DIR/ckpt-<step>.ckpt   numbered checkpoints (the newest `keep_checkpoints` are kept)
//   DIR/latest.ckpt        the newest checkpoint (atomically replaced: collectors hot-reload it)
//   DIR/metrics.jsonl, DIR/metrics.csv   one row every log_every steps: "step", the
//                          learner's metrics (window means/min/max), then the run's
//                          (steps_per_s, update_fraction, wait_fraction, buffer sizes,
//                          online_share, online_shards[_rejected], elapsed_s)
//   DIR/config.yaml        the effective config of the (latest) run
//   DIR/tensorboard/       TensorBoard event files: the metrics rows as scalars,
//                          observation images, the config (train/run_tensorboard.h)
//   DIR/.lock              held while a run trains into DIR (a second run exits with kLocked)
//   DIR/trainer.step       the step, rewritten after every update (common/step_file.h):
//                          `rl-collect --pace.run DIR` keeps pace with it
//
// The buffers (replay/replay_mix.h): the offline buffer is every shard of the
// --data directories, listed again every data_refresh_s seconds so that
// shards collectors add there while training join it; the online buffer is
// the window of the newest online shards holding at most online_window
// transitions (whole shards leave it oldest first; 0 = unbounded). A shard
// is never twice in the online buffer; one in a --data directory is in the
// offline buffer too (recent data twice as likely, all data reachable).
//
// Data-parallel (--dist.*, dist/dist_config.h): W processes run the same
// command; each trains on --batch-size / W rows and the learner averages the
// gradients (dist/collective.h). Rank 0 alone owns OUT (everything above);
// every rank follows the same --data and --online DIR. The ranks check their
// replicas every --dist.check-every steps and stop together on a signal.
//
// Resume restores the learner's state, the sampling Rng, the torch generator
// and the online window (the checkpoint records its shards, which are
// re-read), so a resumed run continues as if it had not stopped (bit-exact
// on CPU with inline sampling and no new shards).
// Torch-free header: tools include it without paying for LibTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "data/dataset_sampler.h"
#include "dist/dist_config.h"
#include "replay/replay_mix.h"
#include "train/run_tensorboard.h"

namespace perpetua {

class Learner;

// The settings every learner's run shares (rl-train <verb> flags without a group).
struct TrainRunConfig {
  // Each field is documented once, by its help text in Visit (training_run.cpp).
  std::vector<std::string> data;
  std::string online;
  std::string out;
  bool resume = false;
  std::string init;
  int64_t steps = 2000;
  int batch_size = 64;
  double online_fraction = 0.5;
  int64_t online_window = 0;
  double data_refresh_s = 10.0;
  int64_t min_transitions = 1;
  uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0;
  int checkpoint_every = 500;
  int keep_checkpoints = 3;
  int log_every = 50;
  DatasetSamplerConfig dataset;
  TensorBoardConfig tensorboard;
  DistConfig dist;

  // The fields above, then the groups "dataset", "tensorboard" and "dist".
  void Visit(ConfigVisitor& v);
  // Throws Error(kUsage) naming the flag. With `inputs` false (--print-config)
  // a missing --out, --data or --online is not an error.
  void Validate(bool inputs = true) const;
};

class TrainingRun {
 public:
  // Takes ownership of `learner`.
  TrainingRun(const TrainRunConfig& config, std::string effective_config_yaml, ReplayDataFactory data_factory,
              std::unique_ptr<Learner> learner);
  virtual ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // Validates the run's and the learner's settings, locks and opens the
  // output directory and the data, starts the online source, builds or
  // restores the learner. Blocks until min_transitions exist (online source)
  // or fails with kBadData. Error(kLocked), kUsage, kBadData, kIoError.
  void Init();
  // One update (and its metrics/checkpoint). Returns false once the
  // configured number of steps is reached or a signal asks to stop
  // (nothing is done then; see interrupted()). Throws
  // Error(kDiverged) "non-finite ...; stopped without saving, the last good
  // checkpoint is PATH" on NaN/Inf.
  bool Step();
  // Stops the learner's helpers and the online source, writes the final
  // checkpoint (unless this step's is written) and returns latest.ckpt's path.
  std::string Finish();
  // Writes a checkpoint of the current state now; returns its numbered path.
  std::string SaveCheckpoint();

  int64_t step() const;
  // True once the run stopped on a signal (in a data-parallel run: a signal
  // on any rank; the ranks stop at the same step).
  bool interrupted() const;
  // True for the process that writes OUT: the one process, or rank 0.
  bool writer() const;
  // Seconds spent in collectives (data-parallel runs; 0 in one process).
  double collective_seconds() const;
  // Wall-time figures since Init (for benchmarks): seconds inside the
  // learner's update (excluding its batch wait) and in total.
  double update_seconds() const;
  double wall_seconds() const;
  // Seconds spent writing TensorBoard records since Init.
  double tensorboard_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs `run` to the end (Init, Step until done or interrupted, Finish) and
// prints the final checkpoint path on stdout. Returns kOk, or kInterrupted
// after a SIGINT/SIGTERM (a checkpoint is written first). Throws Error with
// kUsage, kBadData, kDiverged (the last good checkpoint stays), kLocked, kIoError.
ExitCode RunTraining(TrainingRun& run);

}  // namespace perpetua
