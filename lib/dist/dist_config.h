// Data-parallel training settings (rl-train <verb> --dist.*) and how they
// resolve against a launcher's environment. Torch-free.
//
// A data-parallel run is W processes ("ranks") of the same rl-train command.
// They meet at a rendezvous (a c10d TCPStore that rank 0 serves), check that
// they were given the same settings, and then every update averages their
// gradients (dist/collective.h). Two ways to say where and who:
//
//   torchrun --no-python --nproc-per-node 2 rl-train sac ...      (environment)
//       MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE (LOCAL_RANK optional),
//       as torchrun, torch.distributed's env:// and scripts/slurm.sh set them;
//   rl-train sac ... --dist.init tcp://HOST:PORT --dist.rank R --dist.world-size W
//
// Flags win over the environment. With neither (or WORLD_SIZE 1) the run is
// one process, exactly as without this group. --batch-size is the whole
// batch of one update; each rank draws its share (--batch-size / W).
#pragma once

#include <functional>
#include <string>

#include "common/config.h"

namespace perpetua {

struct DistConfig {
  // Each field is documented once, by its help text in Visit (dist_config.cpp).
  std::string backend = "auto";
  std::string init;
  int rank = -1;
  int world_size = -1;
  double timeout_s = 60.0;
  int check_every = 100;
  std::string sampling = "independent";
  std::string shards = "all";

  void Visit(ConfigVisitor& v);
  // Throws Error(kUsage) naming the flag.
  void Validate() const;
};

// Who this process is, resolved from DistConfig and the environment.
struct DistPlan {
  bool enabled = false;      // false: one process (world_size 1); the rest is unset
  std::string backend;       // "gloo" | "nccl"
  std::string host;          // rendezvous host (rank 0 serves the store there)
  int port = 0;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        // rank on this machine ($LOCAL_RANK)
  int local_world_size = 1;  // ranks on this machine ($LOCAL_WORLD_SIZE; else all of them when the
                             // rendezvous is on loopback, else 1): they share its cores
  double timeout_s = 60.0;
  int check_every = 100;
  bool shared_sampling = false;
  bool disjoint_shards = false;  // each rank reads only its subset of the shards (data/shard_subset.h)
  std::string Describe() const;  // "rank 1 of 4 (gloo, rendezvous 10.0.0.1:29500)"
};

// Reads the environment variable NAME ("" when unset).
using EnvLookup = std::function<std::string(const std::string& name)>;
// The process environment.
std::string ProcessEnv(const std::string& name);

// Resolves `config` against `env` (flags first, then MASTER_ADDR, MASTER_PORT,
// RANK, WORLD_SIZE, LOCAL_RANK). `device` is the run's --device ("cpu",
// "cuda[:N]"): backend auto picks nccl for cuda, gloo otherwise. Throws
// Error(kUsage) with one line naming the flag or variable: a rank outside
// [0, world size), a world size without a rank (or the reverse), a malformed
// address or port, nccl without cuda.
DistPlan ResolveDist(const DistConfig& config, const std::string& device, const EnvLookup& env = ProcessEnv);

// "tcp://HOST:PORT" split; Error(kUsage) "<flag> must be tcp://HOST:PORT, got '...'"
// or "<flag>'s port must be ..." otherwise.
struct TcpAddress {
  std::string host;
  int port = 0;
};
TcpAddress ParseTcpAddress(const std::string& text, const std::string& flag);

// A plan for `world` ranks on this machine (Gloo over 127.0.0.1:port): tests and benches.
DistPlan LoopbackPlan(int rank, int world, int port, double timeout_s);

// The settings text ranks compare at rendezvous: `effective_yaml` without
// the lines that differ legitimately between ranks (dist.rank). Lines keep
// their order so a difference can be named.
std::string DistFingerprint(const std::string& effective_yaml);

// "" when the fingerprints agree; otherwise one line naming the first
// setting that differs, e.g. "batch_size: 32 here, batch_size: 64 on rank 0".
std::string FingerprintDifference(const std::string& mine, const std::string& rank0);

}  // namespace perpetua
