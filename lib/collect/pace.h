// Pacing a collector to a trainer: `rl-collect --pace.run RUN` collects at
// most `ratio` environment steps per gradient step of the rl-train run that
// writes into RUN (it publishes its step in RUN/trainer.step,
// common/step_file.h), plus `ahead` steps of head start. On a small machine
// this sets the split of the cores between acting and learning on purpose
// (an unpaced simulator collects far more than the trainer can use); the
// ratio is the classic update-to-data ratio turned over (ratio 1 = one
// environment step per gradient step, as SAC is usually run).
//
// The count starts at the first step read from the file (a resumed trainer
// counts from where it resumed); before the file exists only the head start
// may be collected. Checked before each episode, so a collector overshoots by
// at most one episode per worker; episodes are never held mid-way (a robot is
// never left waiting with an episode open).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "common/config.h"

namespace perpetua {

struct PaceConfig {
  std::string run;       // rl-train --out directory to keep pace with ("" = unpaced)
  double ratio = 1.0;    // environment steps per gradient step of that run (> 0)
  int64_t ahead = 1000;  // environment steps allowed beyond the ratio (head start, >= 0)

  void Visit(ConfigVisitor& v) {
    v.Field("run", run, "keep pace with the rl-train run writing into this directory (empty: unpaced)");
    v.Field("ratio", ratio, "environment steps collected per gradient step of --pace.run");
    v.Field("ahead", ahead, "environment steps collected beyond the ratio (head start)");
  }
  // Error(kUsage) naming the flag for a ratio <= 0 or a negative head start.
  void Validate() const;
  // "R steps per gradient step, N ahead", for logs.
  std::string Describe() const;
};

// Thread-safe (RunnerOptions::may_start calls it from the worker threads).
class TrainerPace {
 public:
  explicit TrainerPace(const PaceConfig& config);
  // True when `collected` environment steps are within the allowance; logs
  // the first wait.
  bool MayStart(int64_t collected);

 private:
  PaceConfig config_;
  std::string step_path_;
  std::mutex mutex_;
  int64_t first_step_ = -1;  // the trainer's step when first read (-1: not yet)
  bool told_ = false;
};

}  // namespace perpetua
