// Helpers shared by the test suites: scratch directories, running the real
// tool binaries as processes, and reading their output.
#pragma once

#include <sys/types.h>

#include <cstdlib>

#include <string>
#include <vector>

namespace perpetua::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Sets an environment variable for the scope (child processes and cells made
// meanwhile see it); unsets it on destruction.
class ScopedEnvVar {
 public:
  ScopedEnvVar(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnvVar() { ::unsetenv(name_); }
  ScopedEnvVar(const ScopedEnvVar&) = delete;
  ScopedEnvVar& operator=(const ScopedEnvVar&) = delete;

 private:
  const char* name_;
};

// Absolute path of a built tool ("rl-collect"): in $PERPETUA_BIN if set (as the
// scripts take it), else in this build tree.
std::string ToolPath(const std::string& tool);
// The command line of tool `name` with `args`, and the cell flags `cell`
// ("--env", "door", ...) after them when the command runs a cell: rl-collect,
// rl-eval and rl-goals heldout (learning tests run every tool on one cell).
std::vector<std::string> CellToolArgv(const std::string& name, const std::vector<std::string>& args,
                                      const std::vector<std::string>& cell);

// The seed of a learning test: $PERPETUA_LEARNING_SEED when set and not
// empty (rerunning the test with another seed), else `fallback`.
std::string LearningSeed(const std::string& fallback);
// Absolute path of a file in the source tree ("scripts/setup.sh").
std::string SourcePath(const std::string& relative);

// Outcome of a finished child process.
struct ProcessResult {
  int exit_code = -1;   // exit status, or -1 if killed by a signal
  int signal = 0;       // terminating signal, 0 if it exited
  std::string out;      // everything written to stdout
  std::string err;      // everything written to stderr
};

// Runs argv[0] with arguments, feeding `stdin_text` on its stdin, and waits.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// A running child process with stdout and stderr captured to files.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();  // kills (SIGKILL) and reaps the child if still running
  pid_t pid() const { return pid_; }
  void Signal(int signo);
  // Waits for exit; returns the result with captured output.
  ProcessResult Wait();
  // Stdout captured so far.
  std::string OutSoFar() const;
  // Stderr captured so far.
  std::string ErrSoFar() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  TempDir capture_;
};

// The non-empty lines of `text` (e.g. a tool's stdout).
std::vector<std::string> Lines(const std::string& text);
// Waits until `child` has printed `count` lines on stdout, at most
// `timeout_ms` (then throws std::runtime_error, failing the test); returns the lines printed so far.
std::vector<std::string> WaitForLines(ChildProcess& child, size_t count, int timeout_ms = 240000);
// Reads a whole file ("" if missing).
std::string ReadFile(const std::string& path);
// Writes a whole file (overwrites).
void WriteFile(const std::string& path, const std::string& bytes);
// Damages HDF5 file `path` as bit rot would: inverts the byte in the middle
// of the first chunk of `dataset` (e.g. "data/demo_0/actions"), so that its
// checksum no longer matches. Throws std::runtime_error if it cannot.
void RotFirstChunk(const std::string& path, const std::string& dataset);
// Names of the regular files in `dir` matching a suffix, sorted.
std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix = "");

}  // namespace perpetua::testing
