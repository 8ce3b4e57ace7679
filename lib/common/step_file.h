// A trainer's step counter, published in a small file that other processes
// on the machine (or on a shared file system) read to keep pace with it:
// `rl-train --out RUN` keeps RUN/trainer.step current, and
// `rl-collect --pace.run RUN` collects no faster than a set number of
// environment steps per gradient step (collect/pace.h).
//
// Format: the step as 20 decimal digits, zero-padded, then '\n' (21 bytes),
// rewritten in place with one pwrite per update. It is advisory progress,
// not data: no fsync, and a reader that sees anything but 20 digits and a
// newline (a file being created, a torn read) treats it as "not yet known"
// and asks again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace perpetua {

// The file name a training run publishes its step in, inside its --out.
inline constexpr const char* kTrainerStepFile = "trainer.step";

class StepFileWriter {
 public:
  // Creates or opens `path` for writing. Error(kIoError) naming the path.
  explicit StepFileWriter(const std::string& path);
  StepFileWriter(const StepFileWriter&) = delete;
  StepFileWriter& operator=(const StepFileWriter&) = delete;
  ~StepFileWriter();
  // Publishes `step` (>= 0). Error(kIoError) if the write fails.
  void Publish(int64_t step);

 private:
  std::string path_;
  int fd_ = -1;
};

// The step in `path`, or nullopt when the file is missing, unreadable or not
// (yet) in the format above. Never throws.
std::optional<int64_t> ReadStepFile(const std::string& path);

}  // namespace perpetua
