// --dist.* against a launcher's environment (torchrun's and Slurm's
// variables), the settings fingerprint the ranks compare, and the
// shared-sampling rows: logic, no processes.
#include "dist/dist_config.h"

#include <doctest/doctest.h>

#include <map>

#include "dist/rank_rows.h"
#include "support/expect_error.h"

namespace perpetua {
namespace {
using testing::ExpectError;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
}

const std::map<std::string, std::string> kTorchrun = {
    {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29500"}, {"RANK", "3"}, {"WORLD_SIZE", "4"},
    {"LOCAL_RANK", "1"},         {"LOCAL_WORLD_SIZE", "2"}};

TEST_CASE("dist: torchrun's environment makes a rank, flags win over it") {
  DistConfig config;
  DistPlan plan = ResolveDist(config, "cpu", Env(kTorchrun));
  CHECK(plan.enabled);
  CHECK(plan.backend == "gloo");
  CHECK(plan.host == "10.0.0.7");
  CHECK(plan.port == 29500);
  CHECK(plan.rank == 3);
  CHECK(plan.world_size == 4);
  CHECK(plan.local_rank == 1);
  CHECK(plan.local_world_size == 2);
  CHECK(plan.Describe() == "rank 3 of 4 (gloo, rendezvous 10.0.0.7:29500)");
  CHECK(ResolveDist(config, "cuda", Env(kTorchrun)).backend == "nccl");

  config.init = "tcp://127.0.0.1:4000";
  config.rank = 0;
  config.world_size = 2;
  plan = ResolveDist(config, "cpu", Env(kTorchrun));
  CHECK(plan.host == "127.0.0.1");
  CHECK(plan.port == 4000);
  CHECK(plan.rank == 0);
  CHECK(plan.world_size == 2);

  // Loopback without LOCAL_WORLD_SIZE: every rank shares this machine's cores.
  plan = ResolveDist(config, "cpu", Env({}));
  CHECK(plan.local_world_size == 2);
  config.init = "tcp://node1:4000";
  CHECK(ResolveDist(config, "cpu", Env({})).local_world_size == 1);
}

TEST_CASE("dist: one process unless several ranks are asked for") {
  DistConfig config;
  CHECK_FALSE(ResolveDist(config, "cpu", Env({})).enabled);
  CHECK_FALSE(ResolveDist(config, "cpu", Env({{"WORLD_SIZE", "1"}, {"RANK", "0"}})).enabled);
  config.backend = "none";
  CHECK_FALSE(ResolveDist(config, "cpu", Env(kTorchrun)).enabled);
  CHECK(ResolveDist(config, "cpu", Env(kTorchrun)).Describe() == "one process");
}

TEST_CASE("dist: bad values get one line naming the flag or variable") {
  DistConfig config;
  config.world_size = 2;
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage,
              "needs this process's rank: give --dist.rank R or set $RANK");
  config.rank = 2;
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage,
              "rank 2 is outside a world of 2");
  config.rank = 1;
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage,
              "give --dist.init tcp://HOST:PORT or set $MASTER_ADDR");
  ExpectError([&] { ResolveDist(config, "cpu", Env({{"MASTER_ADDR", "h"}})); }, ExitCode::kUsage,
              "$MASTER_ADDR is set but $MASTER_PORT is not");
  ExpectError([&] { ResolveDist(config, "cpu", Env({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})); },
              ExitCode::kUsage, "$MASTER_PORT must be a port in 1..65535, got '70000'");
  config.init = "tcp://host";
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage, "must be tcp://HOST:PORT");
  config.init = "tcp://host:port";
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage,
              "--dist.init's port must be a whole number, got 'port'");
  config.init = "udp://host:1";
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage, "--dist.init must be tcp://HOST:PORT");
  config.init = "tcp://host/x:1";
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage, "--dist.init must be tcp://HOST:PORT");
  // The robot's reading of the address (common/tcp_address.h): an IPv6 literal loses its brackets.
  CHECK(ParseTcpAddress("tcp://[::1]:29500", "--dist.init").host == "::1");
  CHECK(ParseTcpAddress("tcp://[::1]:29500", "--dist.init").port == 29500);
  config.init = "tcp://host:1";
  config.backend = "nccl";
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage, "--dist.backend nccl needs --device cuda");
  config.backend = "mpi";
  ExpectError([&] { ResolveDist(config, "cpu", Env({})); }, ExitCode::kUsage,
              "--dist.backend must be auto, none, gloo or nccl, got 'mpi'");
  ExpectError([&] { ResolveDist(DistConfig{}, "cpu", Env({{"WORLD_SIZE", "two"}})); }, ExitCode::kUsage,
              "$WORLD_SIZE must be a whole number, got 'two'");
  ExpectError([&] { ResolveDist(DistConfig{}, "cpu", Env({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"},
                                                          {"MASTER_PORT", "1"}, {"LOCAL_RANK", "-1"}})); },
              ExitCode::kUsage, "$LOCAL_RANK must be a whole number, got '-1'");
  DistConfig bad;
  bad.timeout_s = 0;
  ExpectError([&] { bad.Validate(); }, ExitCode::kUsage, "--dist.timeout-s must be a positive number of seconds");
  bad = DistConfig{};
  bad.sampling = "mine";
  ExpectError([&] { bad.Validate(); }, ExitCode::kUsage, "--dist.sampling must be independent or shared");
}

TEST_CASE("dist: the settings fingerprint ignores the rank and names the first difference") {
  const std::string rank0 =
      "batch_size: 64  # transitions per gradient step\nseed: 0\ndist:\n  backend: auto\n  rank: 0  # this rank\n"
      "  world_size: 2\nsac:\n  rank: 3\n";
  const std::string rank1 = rank0.substr(0, rank0.find("  rank: 0")) + "  rank: 1  # this rank\n" +
                            rank0.substr(rank0.find("  world_size"));
  CHECK(DistFingerprint(rank0) == DistFingerprint(rank1));
  CHECK(DistFingerprint(rank0).find("sac:\n  rank: 3\n") != std::string::npos);  // only dist's rank is dropped
  CHECK(FingerprintDifference(DistFingerprint(rank0), DistFingerprint(rank1)).empty());
  std::string other = rank1;
  other.replace(other.find("batch_size: 64"), 14, "batch_size: 32");
  CHECK(FingerprintDifference(DistFingerprint(other), DistFingerprint(rank0)) ==
        "'batch_size: 32' here, 'batch_size: 64' on rank 0");
  CHECK(FingerprintDifference("a: 1\n", "a: 1\nb: 2\n") == "'(nothing)' here, 'b: 2' on rank 0");
}

// An in-memory batch source: row i holds the value `next + i` everywhere;
// the last `online` rows are online.
class CountingSource : public BatchSource {
 public:
  int online = 0;
  TransitionBatch Sample(int batch_size, Rng&, int* online_count) override {
    TransitionBatch b;
    b.observations["image"] = Array::Zeros(DType::kUint8, {batch_size, 2, 2, 3});
    b.next_observations["state"] = Array::Zeros(DType::kFloat32, {batch_size, 2});
    b.actions = Array::Zeros(DType::kFloat32, {batch_size, 1});
    for (int i = 0; i < batch_size; ++i) {
      for (int k = 0; k < 12; ++k) b.observations["image"].u8[i * 12 + k] = static_cast<uint8_t>(i);
      b.next_observations["state"].f32[i * 2 + 1] = static_cast<float>(i);
      b.actions.f32[i] = static_cast<float>(i);
      b.rewards.push_back(static_cast<float>(i));
      b.terminated.push_back(i % 2);
      b.returns_to_go.push_back(static_cast<float>(10 * i));
    }
    if (online_count) *online_count = online;
    return b;
  }
};

TEST_CASE("dist: shared sampling gives each rank its block of the whole batch") {
  CountingSource source;
  source.online = 5;  // the whole batch of 12 has online rows 7..11
  Rng rng(1);
  for (int rank = 0; rank < 3; ++rank) {
    RankRowsSource rows(&source, rank, 3);
    int online = -1;
    const TransitionBatch b = rows.Sample(4, rng, &online);
    REQUIRE(b.size() == 4);
    CHECK(b.observations.at("image").shape == std::vector<int64_t>{4, 2, 2, 3});
    for (int i = 0; i < 4; ++i) {
      const int row = rank * 4 + i;
      CHECK(b.rewards[i] == row);
      CHECK(b.terminated[i] == row % 2);
      CHECK(b.returns_to_go[i] == 10 * row);
      CHECK(b.actions.f32[i] == row);
      CHECK(b.observations.at("image").u8[i * 12 + 11] == row);
      CHECK(b.next_observations.at("state").f32[i * 2 + 1] == row);
    }
    CHECK(online == std::vector<int>{0, 1, 4}[rank]);
  }
}

}  // namespace
}  // namespace perpetua
