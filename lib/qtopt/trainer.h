// rl-train q: the QT-Opt training run as a resumable state machine.
//
//   QTrainer trainer(config, effective_config_yaml, data_factory);
//   trainer.Init();                 // data, networks (fresh, --init or --resume), workers
//   while (trainer.Step()) {}       // one gradient step each; checkpoints every K steps
//   trainer.Finish();               // final checkpoint, returns its path
//
// Output directory (--out DIR):
//   DIR/ckpt-<step>.ckpt   numbered checkpoints (the newest `keep` are kept)
//   DIR/latest.ckpt        the newest checkpoint (atomically replaced: collectors hot-reload it)
//   DIR/metrics.jsonl, DIR/metrics.csv   training figures every log_every steps
//   DIR/config.yaml        the effective config of the (latest) run
//   DIR/.lock              held while a run trains into DIR (a second run exits with kLocked)
//
// Torch-free header: tools include it without paying for LibTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "qtopt/qtopt_config.h"
#include "replay/replay_mix.h"

namespace perpetua {

// Runs a whole training (Init, Step until done or interrupted, Finish) and
// prints the final checkpoint path on stdout. Returns kOk, or kInterrupted
// after a SIGINT/SIGTERM (a checkpoint is written first). Throws Error with
// kUsage (bad settings), kBadData (no/mismatched data, corrupt checkpoint),
// kDiverged (NaN/Inf: the last good checkpoint stays), kLocked, kIoError.
ExitCode RunTrainQ(const QTrainConfig& config, const std::string& effective_config_yaml,
                   const ReplayDataFactory& data_factory);

class QTrainer {
 public:
  QTrainer(const QTrainConfig& config, std::string effective_config_yaml, ReplayDataFactory data_factory);
  ~QTrainer();
  QTrainer(const QTrainer&) = delete;
  QTrainer& operator=(const QTrainer&) = delete;

  // Validates the config, opens the data and the output directory, builds or
  // restores the learner and starts the target workers. Blocks until enough
  // transitions are available (online stream) or fails with kBadData.
  void Init();
  // One gradient step (and its metrics/checkpoint). Returns false once the
  // configured number of steps is reached (nothing is done then).
  bool Step();
  // Writes the final checkpoint (unless this step's is already written) and
  // returns the path of latest.ckpt. Stops the workers and the stdin reader.
  std::string Finish();
  // Writes a checkpoint of the current state now; returns its numbered path.
  std::string SaveCheckpoint();

  int64_t step() const;
  // Wall-time figures since Init (for benchmarks): seconds inside the
  // gradient update (forward, backward, optimiser) and in total.
  double update_seconds() const;
  double wall_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perpetua
