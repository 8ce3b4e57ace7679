#include "support/test_support.h"

#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace perpetua::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/perpetua-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!::mkdtemp(buffer.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  // Restore permissions that a test may have removed, then delete.
  for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::remove_all(path_, ec);
}

std::vector<std::string> CellToolArgv(const std::string& name, const std::vector<std::string>& args,
                                      const std::vector<std::string>& cell) {
  std::vector<std::string> argv = {ToolPath(name)};
  argv.insert(argv.end(), args.begin(), args.end());
  if (name == "rl-collect" || name == "rl-eval" || (name == "rl-goals" && !args.empty() && args[0] == "heldout")) {
    argv.insert(argv.end(), cell.begin(), cell.end());
  }
  return argv;
}

std::string LearningSeed(const std::string& fallback) {
  const char* text = std::getenv("PERPETUA_LEARNING_SEED");
  return text != nullptr && *text != '\0' ? text : fallback;
}

std::string ToolPath(const std::string& tool) {
  const char* bin = std::getenv("PERPETUA_BIN");
  return (bin && *bin ? std::string(bin) : std::string(PERPETUA_BIN_DIR)) + "/" + tool;
}

std::string SourcePath(const std::string& relative) {
  return std::string(PERPETUA_SOURCE_DIR) + "/" + relative;
}

namespace {
[[noreturn]] void ExecOrDie(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

ProcessResult Reap(pid_t pid) {
  ProcessResult result;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}
}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_text) {
  TempDir scratch;
  const std::string in_path = scratch / "stdin", out_path = scratch / "stdout",
                    err_path = scratch / "stderr";
  WriteFile(in_path, stdin_text);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(::open(in_path.c_str(), O_RDONLY), 0);
    ::dup2(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    ::dup2(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    ExecOrDie(argv);
  }
  ProcessResult result = Reap(pid);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  const std::string out_path = capture_ / "stdout", err_path = capture_ / "stderr";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(::open("/dev/null", O_RDONLY), 0);
    ::dup2(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    ::dup2(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    ExecOrDie(argv);
  }
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Reap(pid_);
  }
}

void ChildProcess::Signal(int signo) { ::kill(pid_, signo); }

ProcessResult ChildProcess::Wait() {
  ProcessResult result = Reap(pid_);
  reaped_ = true;
  result.out = ReadFile(capture_ / "stdout");
  result.err = ReadFile(capture_ / "stderr");
  return result;
}

std::string ChildProcess::OutSoFar() const { return ReadFile(capture_ / "stdout"); }

std::string ChildProcess::ErrSoFar() const { return ReadFile(capture_ / "stderr"); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> WaitForLines(ChildProcess& child, size_t count, int timeout_ms) {
  for (int i = 0; i < timeout_ms && Lines(child.OutSoFar()).size() < count; ++i) ::usleep(1000);
  const std::vector<std::string> lines = Lines(child.OutSoFar());
  if (lines.size() < count) {
    throw std::runtime_error("the child printed " + std::to_string(lines.size()) + " of " + std::to_string(count) +
                             " lines within " + std::to_string(timeout_ms) + " ms; stderr: " + child.ErrSoFar());
  }
  return lines;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

void RotFirstChunk(const std::string& path, const std::string& dataset) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = file < 0 ? -1 : H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  const hid_t space = d < 0 ? -1 : H5Dget_space(d);
  haddr_t address = 0;
  hsize_t size = 0;
  unsigned mask = 0;
  const bool found = space >= 0 && H5Dget_chunk_info(d, space, 0, nullptr, &mask, &address, &size) >= 0;
  if (space >= 0) H5Sclose(space);
  if (d >= 0) H5Dclose(d);
  if (file >= 0) H5Fclose(file);
  if (!found) throw std::runtime_error(path + ": no chunk of " + dataset);
  std::string bytes = ReadFile(path);
  const size_t at = static_cast<size_t>(address + size / 2);
  bytes.at(at) = static_cast<char>(~bytes[at]);
  WriteFile(path, bytes);
}

}  // namespace perpetua::testing
