// TensorBoard event files of one training run (docs/tensorboard.md): the
// metrics rows as scalars, a few observation images of the training batches
// and the effective config as text, in OUT/tensorboard/ (one run directory,
// one events.out.tfevents.* file per process start; tensorboard/event_writer.h).
//
//   RunTensorBoard board(config.tensorboard, out + "/tensorboard", start_step, config_yaml);
//   ImageTap tap(&mix, config.tensorboard.images);      // the learner samples through it
//   before an update:  if (board.WantsImages(step + 1)) tap.Arm();
//   after it:          board.AddImages(step, tap.Take()); board.AddRow(step, learner_row, run_row);
//   after a checkpoint: board.Commit();
//
// Records reach the file only at Commit() (the run calls it after every
// checkpoint and at the end), when the writer is destroyed (a run stopped by
// an error) and once 16 MiB are pending (a run that checkpoints rarely): a
// run killed by SIGKILL leaves the steps up to its last checkpoint at most (at
// most one torn record at the end, which readers skip), and a resumed run
// writes a new file that starts after its checkpoint's step, so no step
// appears twice.
// Logging reads no random stream: it never changes a training number.
// Torch-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/array.h"
#include "common/config.h"
#include "replay/replay_mix.h"

namespace perpetua {

namespace tensorboard {
class EventWriter;
}

// rl-train --tensorboard.* flags (each documented once, by its help text).
struct TensorBoardConfig {
  bool enabled = true;
  int image_every = 1000;
  int images = 4;

  void Visit(ConfigVisitor& v) {
    v.Field("enabled", enabled, "write TensorBoard event files into OUT/tensorboard/");
    v.Field("image_every", image_every, "steps between observation images of the training batch (0: none)");
    v.Field("images", images, "observations shown per image key at such a step (>= 1)");
  }
  // Throws Error(kUsage) naming the flag.
  void Validate() const;
};

// A BatchSource that passes batches through unchanged and, once armed, keeps
// the first `count` images ([H, W, 3] uint8) of every image key of the next
// batch sampled (by any thread: with asynchronous target workers that batch
// is queued for a coming step). Thread-safe; costs one atomic load per batch
// when not armed.
class ImageTap : public BatchSource {
 public:
  // `inner` must outlive the tap.
  ImageTap(BatchSource* inner, int count);

  TransitionBatch Sample(int batch_size, Rng& rng, int* online_count) override;
  TransitionBatch SampleFor(int batch_size, Rng& rng, int* online_count, const SampleRequest& request) override;
  int64_t online_received() const override { return inner_->online_received(); }

  // The next batch's images are kept.
  void Arm();
  // The kept images, "key/i" -> [H, W, 3] uint8, in key order; empty until a
  // batch was sampled after Arm(). Clears them.
  std::vector<std::pair<std::string, Array>> Take();

 private:
  BatchSource* inner_;
  int count_;
  std::atomic<bool> armed_{false};
  std::mutex mutex_;
  std::vector<std::pair<std::string, Array>> images_;
};

class RunTensorBoard {
 public:
  using Row = std::vector<std::pair<std::string, double>>;

  // Opens a new event file in `dir` (created if missing) and records
  // `config_yaml` as the text "config" at `start_step` (0, or the resumed
  // step). Does nothing at all when !config.enabled. Error(kIoError) naming
  // the directory.
  RunTensorBoard(const TensorBoardConfig& config, const std::string& dir, int64_t start_step,
                 const std::string& config_yaml);
  ~RunTensorBoard();
  RunTensorBoard(const RunTensorBoard&) = delete;
  RunTensorBoard& operator=(const RunTensorBoard&) = delete;

  // True when observation images are due at `step`.
  bool WantsImages(int64_t step) const;
  // A metrics row: the learner's figures as "learner/<name>", the run's as "run/<name>".
  void AddRow(int64_t step, const Row& learner_row, const Row& run_row);
  // Images as "observation/<key>/<i>" (ImageTap::Take()'s names).
  void AddImages(int64_t step, const std::vector<std::pair<std::string, Array>>& images);
  // Writes every record added so far to the file.
  void Commit();

  // The event file ("" when disabled) and the seconds spent in this class so far.
  std::string path() const;
  double seconds() const { return seconds_; }

 private:
  TensorBoardConfig config_;
  std::unique_ptr<tensorboard::EventWriter> writer_;
  double seconds_ = 0.0;
};

}  // namespace perpetua
