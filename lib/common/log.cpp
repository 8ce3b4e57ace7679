#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace perpetua {
namespace {
std::mutex g_log_mutex;
std::string g_prefix = "perpetua";

void WriteLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}
}  // namespace

void SetLogPrefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  g_prefix = prefix;
}

void LogInfo(const std::string& message) { WriteLine(g_prefix + ": " + message + "\n"); }

void LogWarning(const std::string& message) {
  WriteLine(g_prefix + ": warning: " + message + "\n");
}

bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total, double log_interval_s)
    : label_(std::move(label)),
      total_(total),
      log_interval_s_(log_interval_s),
      terminal_(StderrIsTerminal()),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  if (drawn_) WriteLine("\n");
}

void Progress::Update(int64_t done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (terminal_) {
    if (since_last < 0.1 && done != total_) return;
    std::string bar;
    if (total_ > 0) {
      const int width = 24;
      const int filled = static_cast<int>(width * std::min<double>(1.0, double(done) / total_));
      bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    }
    const std::string count =
        std::to_string(done) + (total_ > 0 ? "/" + std::to_string(total_) : "");
    WriteLine("\r\033[K" + label_ + " " + bar + count + "  " + status);
    drawn_ = true;
  } else {
    if (since_last < log_interval_s_) return;
    LogInfo(label_ + " " + std::to_string(done) +
            (total_ > 0 ? "/" + std::to_string(total_) : "") + "  " + status);
  }
  last_ = now;
}

void Progress::Finish(const std::string& status) {
  if (drawn_) {
    WriteLine("\n");
    drawn_ = false;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1fs", seconds);
  LogInfo(label_ + " done in " + elapsed + "  " + status);
}

}  // namespace perpetua
