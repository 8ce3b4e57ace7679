// RunCorpus, Violation and Table of corpus.h: child processes under a timeout.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "corpus/corpus.h"

namespace perpetua::corpus {
namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  pid_t pid = -1;
  Outcome outcome;
  std::string err_path;
  Clock::time_point start;
};

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// Starts `command` in its own process group; stdout is discarded, stderr kept in `err_path`.
pid_t Start(const Command& command, const std::string& in_path, const std::string& err_path) {
  {
    std::ofstream in(in_path, std::ios::binary | std::ios::trunc);
    in << command.stdin_text;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const int out = ::open("/dev/null", O_WRONLY);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : command.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::vector<Outcome> RunCorpus(const std::vector<Case>& cases, int jobs, double timeout_s,
                               const std::function<void(const Outcome&)>& progress) {
  struct Pending {
    const Case* c;
    const Command* command;
  };
  std::vector<Pending> queue;
  for (const Case& c : cases) {
    for (const Command& command : c.commands) queue.push_back({&c, &command});
  }
  std::vector<Outcome> outcomes;
  std::vector<Running> running;
  size_t next = 0;
  char scratch[] = "/tmp/perpetua-corpus-run-XXXXXX";
  const std::string dir = ::mkdtemp(scratch);
  while (next < queue.size() || !running.empty()) {
    while (next < queue.size() && static_cast<int>(running.size()) < std::max(1, jobs)) {
      const Pending& p = queue[next];
      Running r;
      r.outcome.family = p.c->family;
      r.outcome.input = p.c->name;
      r.outcome.command = p.command->label;
      r.err_path = dir + "/err-" + std::to_string(next);
      r.start = Clock::now();
      r.pid = Start(*p.command, dir + "/in-" + std::to_string(next), r.err_path);
      running.push_back(std::move(r));
      ++next;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (size_t i = 0; i < running.size();) {
      Running& r = running[i];
      int status = 0;
      const double elapsed = std::chrono::duration<double>(Clock::now() - r.start).count();
      pid_t done = ::waitpid(r.pid, &status, WNOHANG);
      if (done == 0 && elapsed > timeout_s) {
        r.outcome.timed_out = true;
        ::kill(-r.pid, SIGKILL);
        done = ::waitpid(r.pid, &status, 0);
      }
      if (done == 0) {
        ++i;
        continue;
      }
      ::kill(-r.pid, SIGKILL);  // anything the tool left running in its group
      r.outcome.seconds = elapsed;
      if (!r.outcome.timed_out && WIFEXITED(status)) r.outcome.exit_code = WEXITSTATUS(status);
      if (!r.outcome.timed_out && WIFSIGNALED(status)) r.outcome.signal = WTERMSIG(status);
      r.outcome.err = Tail(r.err_path, 4000);
      ::unlink(r.err_path.c_str());
      if (progress) progress(r.outcome);
      outcomes.push_back(std::move(r.outcome));
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  std::system(("rm -rf '" + dir + "'").c_str());
  return outcomes;
}

std::string Violation(const Outcome& o) {
  if (o.timed_out) return "hang";
  if (o.signal != 0) return "crash (signal " + std::to_string(o.signal) + ")";
  static const std::set<int> kDocumented = {0, 2, 3, 4, 5, 6, 7, 8, 130};
  if (o.exit_code == 1) return "exit 1";
  if (!kDocumented.count(o.exit_code)) return "undocumented exit code " + std::to_string(o.exit_code);
  if (o.exit_code == 0) return "";
  int error_lines = 0;
  std::stringstream lines(o.err);
  for (std::string line; std::getline(lines, line);) {
    const size_t colon = line.find(": ");
    if (line.rfind("rl-", 0) == 0 && colon != std::string::npos && line.compare(colon, 9, ": error: ") == 0) {
      ++error_lines;
    }
    if (line.find("internal error") != std::string::npos) return "internal error";
  }
  return error_lines == 1 ? "" : "failure without exactly one error line";
}

std::string Table(const std::vector<Outcome>& outcomes) {
  std::map<std::string, std::map<std::string, int>> counts;  // family -> outcome -> runs
  std::map<std::string, std::set<std::string>> inputs;       // family -> inputs
  std::set<std::string> columns;
  for (const Outcome& o : outcomes) {
    const std::string column = o.timed_out ? "hang" : o.signal ? "crash" : "exit " + std::to_string(o.exit_code);
    ++counts[o.family][column];
    ++counts["total"][column];
    inputs[o.family].insert(o.input);
    columns.insert(column);
  }
  std::ostringstream out;
  char cell[64];
  std::snprintf(cell, sizeof(cell), "%-11s %7s %6s", "family", "inputs", "runs");
  out << cell;
  for (const auto& c : columns) {
    std::snprintf(cell, sizeof(cell), " %8s", c.c_str());
    out << cell;
  }
  out << "\n";
  size_t total_inputs = 0;
  for (const auto& [family, row] : counts) {
    int runs = 0;
    for (const auto& entry : row) runs += entry.second;
    const size_t n = family == "total" ? total_inputs : inputs[family].size();
    total_inputs += family == "total" ? 0 : n;
    std::snprintf(cell, sizeof(cell), "%-11s %7zu %6d", family.c_str(), n, runs);
    out << cell;
    for (const auto& c : columns) {
      std::snprintf(cell, sizeof(cell), " %8d", row.count(c) ? row.at(c) : 0);
      out << cell;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace perpetua::corpus
