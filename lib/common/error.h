// The project's one error policy.
//
//  * Expected failures (bad user input, unreadable files, a robot that stops
//    answering, a full disk) throw perpetua::Error carrying a documented exit
//    code and one line of text that names the file/flag and what is wrong.
//    Each tool's main() catches it once (see cli.h), prints
//    "<tool>: error: <message>" on stderr and exits with the code.
//  * Broken invariants (bugs) use PERPETUA_CHECK, which aborts loudly with the
//    file and line, in every build type.
//  * Nothing is swallowed: a function either handles a failure completely or
//    lets it propagate.
#pragma once

#include <stdexcept>
#include <string>

namespace perpetua {

// Process exit codes shared by every rl-* tool. Documented in README.md
// ("Exit codes"); never renumber, only append.
enum class ExitCode : int {
  kOk = 0,           // success
  kInternal = 1,     // a bug: an unexpected exception escaped
  kUsage = 2,        // bad flags, bad config file, bad arguments
  kBadData = 3,      // input data (dataset, checkpoint, goal file) invalid or mismatched
  kEnvFailure = 4,   // simulator/renderer/robot failed or stopped answering
  kGateFailed = 5,   // a quality gate failed (e.g. rl-eval --min-success)
  kIoError = 6,      // cannot write output: permissions, full disk, ...
  kDiverged = 7,     // training produced NaN/Inf; last good checkpoint kept
  kLocked = 8,       // another run holds the lock; nothing was done
  kPeerLost = 9,     // data-parallel training: another rank died or did not answer in time
  kInterrupted = 130 // SIGINT/SIGTERM: stopped cleanly after flushing
};

// Returns the symbolic name of `code` ("usage", "bad-data", ...).
const char* ExitCodeName(ExitCode code);

// An expected failure with its exit code. what() is the one-line message.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Throws Error(code, message). Convenience for one-liners.
[[noreturn]] void Fail(ExitCode code, const std::string& message);

// Aborts the process after printing `expr`, file and line. For bugs only.
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line,
                              const std::string& detail);

}  // namespace perpetua

// Always-on invariant check (not compiled out in release builds).
#define PERPETUA_CHECK(cond)                                             \
  do {                                                                   \
    if (!(cond)) ::perpetua::CheckFailed(#cond, __FILE__, __LINE__, ""); \
  } while (0)
#define PERPETUA_CHECK_MSG(cond, msg)                                      \
  do {                                                                     \
    if (!(cond)) ::perpetua::CheckFailed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
