// bench_fan_in: many collectors, one trainer, one shared directory. N real
// rl-collect processes (pendulum, random policy, a shard every few
// episodes) write into one dataset directory while the trainer's own online
// source (replay/online_source.h, as `rl-train --online DIR` runs it)
// follows it. Prints:
//   - shards and transitions picked up per second;
//   - the latency from a shard's completion (its rename into place: the
//     file's modification time) to its hand-over to the online buffer
//     (after which every batch samples it with its share), p50/p95/max;
//   - shards the collectors printed but the trainer never received (lost),
//     and shards received twice (must both be 0).
// The baseline in the same run: the source's listing period (--poll-s),
// the floor of the pickup latency.
//
//   bench_fan_in [--collectors 8] [--episodes 60] [--episodes-per-shard 3] [--poll-s 1]
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "replay/online_source.h"

extern char** environ;

namespace perpetua {
namespace {

namespace fs = std::filesystem;

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double MtimeUnix(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0.0;
  return static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec * 1e-9;
}

std::string ToolsDir() {
  if (const char* bin = std::getenv("PERPETUA_BIN")) return bin;
  return fs::read_symlink("/proc/self/exe").parent_path().string();
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

}  // namespace
}  // namespace perpetua

int main(int argc, char** argv) {
  using namespace perpetua;
  std::map<std::string, std::string> flags = {
      {"--collectors", "8"}, {"--episodes", "60"}, {"--episodes-per-shard", "3"}, {"--poll-s", "1"},
      {"--scratch", "/tmp"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!flags.count(argv[i])) {
      std::fprintf(stderr, "bench_fan_in: unknown flag %s\n", argv[i]);
      return 2;
    }
    flags[argv[i]] = argv[i + 1];
  }
  const int collectors = std::atoi(flags["--collectors"].c_str());
  const double poll_s = std::atof(flags["--poll-s"].c_str());
  const std::string dir = flags["--scratch"] + "/fan_in_bench_" + std::to_string(getpid());
  fs::create_directories(dir);

  std::mutex mutex;
  std::map<std::string, int> received;          // path -> times handed over
  std::map<std::string, double> pickup_latency;  // path -> seconds from rename to hand-over
  OnlineSource source(
      dir,
      [&](const std::string& path) {
        const double now = NowUnix();
        std::lock_guard<std::mutex> lock(mutex);
        if (++received[path] == 1) pickup_latency[path] = now - MtimeUnix(path);
        return true;
      },
      {}, poll_s);

  const auto start = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  std::vector<int> outputs;
  for (int c = 0; c < collectors; ++c) {
    std::vector<std::string> args = {ToolsDir() + "/rl-collect", "--env", "pendulum", "--cell.max-episode-steps",
                                     "50", "--policy", "random", "--episodes", flags["--episodes"], "--seed",
                                     std::to_string(1000 * (c + 1)), "--threads", "1", "--dataset.episodes-per-shard",
                                     flags["--episodes-per-shard"], "--dataset.sync", "shard", "--out", dir};
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return 1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    if (posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), environ) != 0) {
      std::fprintf(stderr, "bench_fan_in: cannot start %s\n", cargs[0]);
      return 1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    pids.push_back(pid);
    outputs.push_back(fds[0]);
  }
  std::set<std::string> printed;
  int printed_count = 0;
  for (int fd : outputs) {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) out.append(buffer, static_cast<size_t>(n));
    close(fd);
    size_t begin = 0;
    while (begin < out.size()) {
      const size_t end = out.find('\n', begin);
      const std::string line = out.substr(begin, end - begin);
      if (!line.empty()) {
        printed.insert(fs::weakly_canonical(line).string());
        ++printed_count;
      }
      if (end == std::string::npos) break;
      begin = end + 1;
    }
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "bench_fan_in: a collector failed\n");
      return 1;
    }
  }
  const double collect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Let the source list the directory once more after the last shard.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(poll_s * 3 + 2);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (received.size() >= printed.size()) break;
    }
    usleep(20000);
  }
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> lock(mutex);
  int lost = 0, twice = 0;
  std::set<std::string> got;
  for (const auto& [path, times] : received) {
    got.insert(fs::weakly_canonical(path).string());
    if (times > 1) ++twice;
  }
  for (const auto& path : printed) lost += got.count(path) ? 0 : 1;
  std::vector<double> latency;
  for (const auto& [path, s] : pickup_latency) latency.push_back(s);
  const int episodes = std::atoi(flags["--episodes"].c_str());
  std::printf("%d collectors x %d pendulum episodes (50 steps), %s episodes a shard, into one directory\n",
              collectors, episodes, flags["--episodes-per-shard"].c_str());
  std::printf("shards printed by collectors   %d (%zu distinct)\n", printed_count, printed.size());
  std::printf("shards picked up               %zu in %.1f s of collection: %.1f shards/s, %.0f transitions/s\n",
              received.size(), collect_s, received.size() / collect_s, collectors * episodes * 50.0 / collect_s);
  std::printf("pickup latency (rename -> buffer)  p50 %.3f s  p95 %.3f s  max %.3f s  (listing period %.2f s)\n",
              Percentile(latency, 0.5), Percentile(latency, 0.95), Percentile(latency, 1.0), poll_s);
  std::printf("lost %d, received twice %d, waited %.1f s in all\n", lost, twice, total_s);
  fs::remove_all(dir);
  return lost == 0 && twice == 0 ? 0 : 1;
}
