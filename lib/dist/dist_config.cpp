#include "dist/dist_config.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <vector>

#include "common/error.h"
#include "common/flag_check.h"
#include "common/tcp_address.h"
#include "common/whole_number.h"

namespace perpetua {
namespace {

// A whole number up to a million, or `fallback` when `text` is empty; kUsage
// naming `what` otherwise.
int ParseCount(const std::string& text, const std::string& what, int fallback) {
  if (text.empty()) return fallback;
  const std::optional<uint64_t> value = ParseWholeNumber(text, 1000000);
  if (!value) Fail(ExitCode::kUsage, what + " must be a whole number, got '" + text + "'");
  return static_cast<int>(*value);
}

int ParsePort(const std::string& text, const std::string& what) {
  const int port = ParseCount(text, what, -1);
  if (port < 1 || port > 65535) Fail(ExitCode::kUsage, what + " must be a port in 1..65535, got '" + text + "'");
  return port;
}

std::string StripComment(const std::string& line) {
  const size_t hash = line.find("  #");
  std::string text = hash == std::string::npos ? line : line.substr(0, hash);
  const size_t first = text.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : text.substr(first);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

void DistConfig::Visit(ConfigVisitor& v) {
  v.Field("backend", backend,
          "auto (gloo on cpu, nccl on cuda when several ranks are given), none (one process), gloo or nccl",
          FieldScope::kLocal);
  v.Field("init", init, "tcp://HOST:PORT where rank 0 serves the rendezvous; empty: MASTER_ADDR and MASTER_PORT",
          FieldScope::kLocal);
  v.Field("rank", rank, "this process's rank in [0, world-size); -1: $RANK", FieldScope::kLocal);
  v.Field("world_size", world_size, "number of ranks; -1: $WORLD_SIZE (none: one process)", FieldScope::kLocal);
  v.Field("timeout_s", timeout_s,
          "seconds a rank waits for the others (rendezvous, each all-reduce) before it stops with exit code 9",
          FieldScope::kLocal);
  v.Field("check_every", check_every, "steps between parameter checksums across ranks (they must agree exactly)");
  v.Field("sampling", sampling,
          "independent: each rank samples its share of --batch-size with its own stream; shared: every rank draws "
          "the whole batch with rank 0's stream and trains on its rows (the same updates as one process; for checks)");
  v.Field("shards", shards,
          "all: every rank reads every shard; disjoint: each rank reads only the shards whose name hashes to its "
          "rank (--data directories and --online DIR), so each holds about 1/W of the data");
}

void DistConfig::Validate() const {
  RequireFlag(backend == "auto" || backend == "none" || backend == "gloo" || backend == "nccl", "dist", "backend",
              "must be auto, none, gloo or nccl, got '" + backend + "'");
  RequireFlag(init.empty() || init.rfind("tcp://", 0) == 0 || init == "env://", "dist", "init",
              "must be tcp://HOST:PORT or env://, got '" + init + "'");
  RequireFlag(rank >= -1, "dist", "rank", "must be >= 0 (or -1: $RANK)");
  RequireFlag(world_size == -1 || world_size >= 1, "dist", "world_size", "must be >= 1 (or -1: $WORLD_SIZE)");
  RequireFlag(timeout_s > 0.0 && std::isfinite(timeout_s), "dist", "timeout_s", "must be a positive number of seconds");
  RequireFlag(check_every >= 0, "dist", "check_every", "must be >= 0 (0: never)");
  RequireFlag(sampling == "independent" || sampling == "shared", "dist", "sampling",
              "must be independent or shared, got '" + sampling + "'");
  RequireFlag(shards == "all" || shards == "disjoint", "dist", "shards",
              "must be all or disjoint, got '" + shards + "'");
  RequireFlag(!(shards == "disjoint" && sampling == "shared"), "dist", "shards",
              "disjoint needs --dist.sampling independent (shared sampling draws every rank's rows from one buffer)");
}

std::string ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? value : "";
}

std::string DistPlan::Describe() const {
  if (!enabled) return "one process";
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + backend + ", rendezvous " +
         host + ":" + std::to_string(port) + ")";
}

DistPlan ResolveDist(const DistConfig& config, const std::string& device, const EnvLookup& env) {
  config.Validate();
  DistPlan plan;
  if (config.backend == "none") return plan;
  const std::string env_world = env("WORLD_SIZE"), env_rank = env("RANK");
  const int world = config.world_size >= 1 ? config.world_size : ParseCount(env_world, "$WORLD_SIZE", 1);
  if (world < 1) Fail(ExitCode::kUsage, "$WORLD_SIZE must be >= 1, got '" + env_world + "'");
  const bool explicit_backend = config.backend == "gloo" || config.backend == "nccl";
  if (world == 1 && !explicit_backend) return plan;
  const int rank = config.rank >= 0 ? config.rank : ParseCount(env_rank, "$RANK", -1);
  if (rank < 0) {
    Fail(ExitCode::kUsage, "a run of " + std::to_string(world) +
                               " ranks needs this process's rank: give --dist.rank R or set $RANK");
  }
  if (rank >= world) {
    Fail(ExitCode::kUsage, "rank " + std::to_string(rank) + " is outside a world of " + std::to_string(world) +
                               " (--dist.rank must be in [0, --dist.world-size))");
  }
  const bool cuda = device.rfind("cuda", 0) == 0;
  plan.backend = explicit_backend ? config.backend : (cuda ? "nccl" : "gloo");
  if (plan.backend == "nccl" && !cuda) Fail(ExitCode::kUsage, "--dist.backend nccl needs --device cuda");
  if (!config.init.empty() && config.init != "env://") {
    const TcpAddress address = ParseTcpAddress(config.init, "--dist.init");
    plan.host = address.host;
    plan.port = address.port;
  } else {
    plan.host = env("MASTER_ADDR");
    if (plan.host.empty()) {
      Fail(ExitCode::kUsage, "a run of " + std::to_string(world) +
                                 " ranks needs the rendezvous: give --dist.init tcp://HOST:PORT or set $MASTER_ADDR "
                                 "and $MASTER_PORT");
    }
    const std::string port = env("MASTER_PORT");
    if (port.empty()) Fail(ExitCode::kUsage, "$MASTER_ADDR is set but $MASTER_PORT is not");
    plan.port = ParsePort(port, "$MASTER_PORT");
  }
  plan.enabled = true;
  plan.rank = rank;
  plan.world_size = world;
  plan.local_rank = ParseCount(env("LOCAL_RANK"), "$LOCAL_RANK", 0);
  const bool loopback = plan.host == "localhost" || plan.host.rfind("127.", 0) == 0 || plan.host == "::1";
  plan.local_world_size = ParseCount(env("LOCAL_WORLD_SIZE"), "$LOCAL_WORLD_SIZE", loopback ? world : 1);
  if (plan.local_world_size < 1) Fail(ExitCode::kUsage, "$LOCAL_WORLD_SIZE must be >= 1");
  plan.timeout_s = config.timeout_s;
  plan.check_every = config.check_every;
  plan.shared_sampling = config.sampling == "shared";
  plan.disjoint_shards = config.shards == "disjoint";
  return plan;
}

TcpAddress ParseTcpAddress(const std::string& text, const std::string& flag) {
  const std::optional<TcpHostPort> split = SplitTcpAddress(text);
  if (!split) Fail(ExitCode::kUsage, flag + " must be tcp://HOST:PORT, got '" + text + "'");
  return {split->host, ParsePort(split->port, flag + "'s port")};
}

DistPlan LoopbackPlan(int rank, int world, int port, double timeout_s) {
  DistPlan plan;
  plan.enabled = true;
  plan.backend = "gloo";
  plan.host = "127.0.0.1";
  plan.port = port;
  plan.rank = rank;
  plan.world_size = world;
  plan.local_world_size = world;
  plan.timeout_s = timeout_s;
  return plan;
}

std::string DistFingerprint(const std::string& effective_yaml) {
  std::string out;
  bool in_dist = false;
  for (const std::string& line : Lines(effective_yaml)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_dist = line.rfind("dist:", 0) == 0;
    if (in_dist && StripComment(line).rfind("rank:", 0) == 0) continue;
    out += line;
    out += '\n';
  }
  return out;
}

std::string FingerprintDifference(const std::string& mine, const std::string& rank0) {
  if (mine == rank0) return "";
  const std::vector<std::string> a = Lines(mine), b = Lines(rank0);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string here = i < a.size() ? StripComment(a[i]) : "(nothing)";
    const std::string there = i < b.size() ? StripComment(b[i]) : "(nothing)";
    if (here != there) return "'" + here + "' here, '" + there + "' on rank 0";
  }
  return "the settings differ in comments only";
}

}  // namespace perpetua
