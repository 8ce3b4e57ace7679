// Human-facing output. Everything here goes to stderr: stdout carries only
// machine-readable results (shard paths, JSON reports) so tools pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace perpetua {

// Sets the prefix of every log line ("rl-collect"). Called by Tool::Main.
void SetLogPrefix(const std::string& prefix);

// "<prefix>: <message>" on stderr. Thread-safe (whole lines never interleave).
void LogInfo(const std::string& message);
// "<prefix>: warning: <message>" on stderr.
void LogWarning(const std::string& message);

// True when stderr is a terminal (progress bars are drawn only then).
bool StderrIsTerminal();

// Progress of a long job. On a terminal it redraws one line in place; off a
// terminal it prints a plain log line at most every `log_interval_s` seconds,
// so logs stay readable. total <= 0 means open-ended (--forever).
class Progress {
 public:
  Progress(std::string label, int64_t total, double log_interval_s = 10.0);
  ~Progress();  // ends the line if one is being drawn
  // Reports `done` units and a short status text ("12.3 eps/s, success 0.41").
  void Update(int64_t done, const std::string& status);
  // Forces a final report line.
  void Finish(const std::string& status);

 private:
  std::string label_;
  int64_t total_;
  double log_interval_s_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace perpetua
