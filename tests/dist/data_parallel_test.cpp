// Data-parallel rl-train end to end: real rl-train processes meeting on
// loopback (c10d TCPStore + Gloo). W ranks training on the rows of one batch
// (--dist.sampling shared) must end where one process ends (sac and q);
// torchrun's environment works; a killed rank stops the others within the
// timeout and the run resumes with another world size; bad values are one
// line and exit code 2.
// LibTorch before doctest: c10 includes glog, whose CHECK would replace doctest's.
#include "nn/tensor_io.h"
#include "nn/checkpoint.h"
#include "data/dataset_reader.h"
#include "data/shard_subset.h"
#include "vice/query_queue.h"

#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "qtopt/q_checkpoint.h"
#include "qtopt/rl_train_fixture.h"
#include "support/free_port.h"
#include "support/test_support.h"
#include "vice/push_data.h"

namespace perpetua {
namespace {
using testing::ChildProcess;
using testing::ProcessResult;
using testing::RunProcess;
using testing::ToolPath;

void CollectPendulum(const std::string& dir) {
  const auto r = RunProcess({ToolPath("rl-collect"), "--env", "pendulum", "--cell.max-episode-steps", "20", "--policy",
                             "random", "--episodes", "3", "--seed", "1", "--threads", "1", "--out", dir});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

std::vector<std::string> SmallSac(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {ToolPath("rl-train"), "sac", "--batch-size", "16", "--threads", "1",
                                   "--sac.network.hidden", "16,16", "--log-every", "2",
                                   "--dataset.memory-budget-mb", "64"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// `argv` plus the flags of rank r of `world` on a fresh loopback port, all ranks run to the end.
std::vector<ProcessResult> RunRanks(const std::vector<std::string>& argv, int world) {
  const std::string init = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> a = argv;
    a.insert(a.end(), {"--dist.init", init, "--dist.rank", std::to_string(r), "--dist.world-size",
                       std::to_string(world), "--dist.timeout-s", "60"});
    ranks.push_back(std::make_unique<ChildProcess>(a));
  }
  std::vector<ProcessResult> results;
  for (auto& r : ranks) results.push_back(r->Wait());
  return results;
}

void RequireAllOk(const std::vector<ProcessResult>& results) {
  for (size_t r = 0; r < results.size(); ++r) {
    INFO("rank " << r << ": " << results[r].err);
    REQUIRE(results[r].exit_code == 0);
  }
}

double MaxDifference(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes().vec() == b.sizes().vec());
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// The largest difference between the SAC states of two checkpoints.
double SacDifference(const std::string& a, const std::string& b) {
  const CheckpointContents x = ReadCheckpoint(a), y = ReadCheckpoint(b);
  double worst = 0.0;
  for (const char* blob : {"sac.critic", "sac.actor", "sac.target_critic"}) {
    worst = std::max(worst, MaxDifference(TensorFromBytes(x.blobs.at(blob), a), TensorFromBytes(y.blobs.at(blob), b)));
  }
  const double alpha_a = x.metadata["sac_state"]["log_alpha"], alpha_b = y.metadata["sac_state"]["log_alpha"];
  return std::max(worst, std::abs(alpha_a - alpha_b));
}

double QDifference(const std::string& a, const std::string& b) {
  const CheckpointContents x = ReadCheckpoint(a), y = ReadCheckpoint(b);
  double worst = 0.0;
  for (const char* net : {"net.online", "net.target1"}) {
    const auto p = LoadQNetwork(x, a, torch::kCPU, net).network->parameters();
    const auto q = LoadQNetwork(y, b, torch::kCPU, net).network->parameters();
    REQUIRE(p.size() == q.size());
    for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, MaxDifference(p[i], q[i]));
  }
  return worst;
}

TEST_CASE("data-parallel sac: 2 and 4 ranks on the rows of one batch end where one process ends") {
  testing::TempDir tmp;
  CollectPendulum(tmp / "data");
  const auto train = [&](const std::string& out, const std::string& seed) {
    return SmallSac({"--data", tmp / "data", "--out", out, "--steps", "12", "--seed", seed, "--dist.sampling",
                     "shared", "--dist.check-every", "4"});
  };
  const auto one = RunProcess(train(tmp / "one", "3"));
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  for (int world : {2, 4}) {
    CAPTURE(world);
    const std::string out = tmp / ("ranks" + std::to_string(world));
    const auto ranks = RunRanks(train(out, "3"), world);
    RequireAllOk(ranks);
    // Rank 0 alone writes OUT and prints the checkpoint; the others print nothing.
    CHECK(ranks[0].out == out + "/latest.ckpt\n");
    for (int r = 1; r < world; ++r) CHECK(ranks[r].out.empty());
    CHECK(testing::Lines(testing::ReadFile(out + "/metrics.jsonl")).size() == 6);
    CHECK(ranks[0].err.find("rank 0 of " + std::to_string(world) + " (gloo") != std::string::npos);
    CHECK(SacDifference(tmp / "one/latest.ckpt", out + "/latest.ckpt") < 1e-4);
  }
  // The comparison can fail: another seed ends elsewhere.
  const auto other = RunProcess(train(tmp / "other", "4"));
  REQUIRE(other.exit_code == 0);
  CHECK(SacDifference(tmp / "one/latest.ckpt", tmp / "other/latest.ckpt") > 1e-3);
}

TEST_CASE("data-parallel q: 2 ranks on the rows of one batch end where one process ends") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 6);
  const auto train = [&](const std::string& out, const std::string& seed) {
    return testing::SmallQTrain({"--data", tmp / "data", "--out", out, "--steps", "8", "--seed", seed,
                                 "--target-workers.count", "0", "--augment.shift", "2",
                                 "--optim.conservative-weight", "0.5", "--dist.sampling", "shared"});
  };
  const auto one = RunProcess(train(tmp / "one", "3"));
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  RequireAllOk(RunRanks(train(tmp / "two", "3"), 2));
  CHECK(QDifference(tmp / "one/latest.ckpt", tmp / "two/latest.ckpt") < 1e-4);
  const auto other = RunProcess(train(tmp / "other", "4"));
  REQUIRE(other.exit_code == 0);
  CHECK(QDifference(tmp / "one/latest.ckpt", tmp / "other/latest.ckpt") > 1e-3);
}

TEST_CASE("data-parallel: torchrun's environment, independent sampling, and target workers") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 6);
  const int port = testing::FreePort();
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> argv = {"/usr/bin/env", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port),
                                     "RANK=" + std::to_string(r), "WORLD_SIZE=2", "LOCAL_RANK=" + std::to_string(r)};
    const auto train = testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "6",
                                             "--target-workers.count", "1", "--dist.check-every", "2"});
    argv.insert(argv.end(), train.begin(), train.end());
    ranks.push_back(std::make_unique<ChildProcess>(argv));
  }
  const ProcessResult rank0 = ranks[0]->Wait(), rank1 = ranks[1]->Wait();
  INFO(rank0.err << rank1.err);
  REQUIRE(rank0.exit_code == 0);
  REQUIRE(rank1.exit_code == 0);
  CHECK(rank0.out == tmp / "run/latest.ckpt\n");
  CHECK(rank1.out.empty());
  CHECK(rank1.err.find("rank 1 of 2 (gloo, rendezvous 127.0.0.1:") != std::string::npos);
  CHECK(ReadCheckpointMetadata(tmp / "run/latest.ckpt")["step"] == 6);
}

TEST_CASE("data-parallel q with target worker processes: rank r serves its own at --target-workers.listen's port + r") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 6);
  const int port = testing::FreePortPair();
  const std::string listen = "tcp://127.0.0.1:" + std::to_string(port);
  const std::string init = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<ChildProcess>> ranks, workers;
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(std::make_unique<ChildProcess>(testing::SmallQTrain(
        {"--data", tmp / "data", "--out", tmp / "run", "--steps", "8", "--target-workers.count", "1",
         "--target-workers.listen", listen, "--dist.init", init, "--dist.rank", std::to_string(r),
         "--dist.world-size", "2", "--dist.check-every", "2"})));
    workers.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
        ToolPath("rl-train"), "q-targets", "--connect", "tcp://127.0.0.1:" + std::to_string(port + r), "--index",
        "0", "--timeout-s", "60"}));
  }
  for (int r = 0; r < 2; ++r) {
    const ProcessResult trainer = ranks[static_cast<size_t>(r)]->Wait();
    const ProcessResult worker = workers[static_cast<size_t>(r)]->Wait();
    INFO("rank " << r << ": " << trainer.err << "\nits worker: " << worker.err);
    CHECK(trainer.exit_code == 0);
    CHECK(trainer.err.find("rank " + std::to_string(r) + "'s target worker processes connect to tcp://127.0.0.1:" +
                           std::to_string(port + r)) != std::string::npos);
    CHECK(worker.exit_code == 0);
    CHECK(worker.err.find("batches labelled") != std::string::npos);
  }
  CHECK(ReadCheckpointMetadata(tmp / "run/latest.ckpt")["step"] == 8);
}

TEST_CASE("data-parallel: a killed rank stops the others within the timeout - the run resumes on another world size") {
  testing::TempDir tmp;
  CollectPendulum(tmp / "data");
  const std::string init = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(std::make_unique<ChildProcess>(
        SmallSac({"--data", tmp / "data", "--out", tmp / "run", "--steps", "100000000", "--checkpoint-every", "20",
                  "--dist.init", init, "--dist.rank", std::to_string(r), "--dist.world-size", "2",
                  "--dist.timeout-s", "10"})));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!IsRegularFile(tmp / "run/latest.ckpt") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(IsRegularFile(tmp / "run/latest.ckpt"));
  ranks[1]->Signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  const ProcessResult rank0 = ranks[0]->Wait();
  INFO(rank0.err);
  CHECK(rank0.exit_code == 9);
  CHECK(rank0.err.find("another rank died or did not answer within --dist.timeout-s 10") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - killed < std::chrono::seconds(40));

  // The last checkpoint is whole; one process continues from it, then two.
  const int64_t step = ReadCheckpointMetadata(tmp / "run/latest.ckpt")["step"];
  REQUIRE(step >= 20);
  const auto alone = RunProcess(
      SmallSac({"--data", tmp / "data", "--out", tmp / "run", "--resume", "--steps", std::to_string(step + 4)}));
  INFO(alone.err);
  REQUIRE(alone.exit_code == 0);
  CHECK(ReadCheckpointMetadata(tmp / "run/latest.ckpt")["step"] == step + 4);
  RequireAllOk(RunRanks(
      SmallSac({"--data", tmp / "data", "--out", tmp / "run", "--resume", "--steps", std::to_string(step + 8)}), 2));
  CHECK(ReadCheckpointMetadata(tmp / "run/latest.ckpt")["step"] == step + 8);
}

// The transitions a rank logs it trains on: "... on N offline + M online transitions ...".
int64_t LoggedOffline(const std::string& err) {
  const size_t at = err.find(" offline + ");
  REQUIRE(at != std::string::npos);
  const size_t start = err.rfind(' ', at - 1) + 1;
  return std::stoll(err.substr(start, at - start));
}

TEST_CASE("data-parallel: --dist.shards disjoint gives each rank its own share of --data and of --online DIR") {
  testing::TempDir tmp;
  for (const char* dir : {"data", "fresh"}) {
    const auto r = RunProcess({ToolPath("rl-collect"), "--env", "pendulum", "--cell.max-episode-steps", "10",
                               "--policy", "random", "--episodes", "16", "--dataset.episodes-per-shard", "1",
                               "--seed", std::string(dir) == "data" ? "1" : "2", "--threads", "1", "--out", tmp / dir});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  const std::vector<std::string> shards = ListShards(tmp / "data");
  REQUIRE(shards.size() == 16);
  const auto results = RunRanks(SmallSac({"--data", tmp / "data", "--online", tmp / "fresh", "--out", tmp / "run",
                                          "--steps", "6", "--dist.shards", "disjoint"}),
                                2);
  RequireAllOk(results);
  int64_t total = 0;
  for (int rank = 0; rank < 2; ++rank) {
    const ShardSubset subset{rank, 2};
    const std::string& err = results[static_cast<size_t>(rank)].err;
    INFO(err);
    int64_t kept = 0;
    for (const std::string& shard : shards) kept += subset.Keeps(shard) ? 10 : 0;  // 10 transitions per shard
    CHECK(LoggedOffline(err) == kept);
    CHECK(err.find("reading " + subset.Describe()) != std::string::npos);
    total += LoggedOffline(err);
  }
  CHECK(total == 160);  // every shard on exactly one rank
  // Rank 0's online window (in its checkpoint) holds only shards of its own share.
  const CheckpointContents checkpoint = ReadCheckpoint(tmp / "run/latest.ckpt");
  const auto state = nlohmann::json::parse(checkpoint.blobs.at("trainer.state"));
  for (const auto& path : state.at("online_shards")) CHECK(ShardSubset{0, 2}.Keeps(path.get<std::string>()));
}

TEST_CASE("data-parallel VICE: rank 0 asks, every rank learns each answer, the replicas stay identical") {
  testing::TempDir tmp;
  testing::MakeExamples(tmp / "scripted", tmp / "examples", 8);
  const std::vector<std::string> cell = {"--env", "push", "--cell.image-size", "32", "--cell.max-episode-steps", "12"};
  testing::CollectPush(tmp / "online", "scripted", 4, 3, cell);
  testing::CollectPush(tmp / "online", "random", 4, 4, cell);
  const auto train = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = SmallSac(
        {"--sac.network.encoder-channels", "8,8", "--sac.network.encoder-strides", "2,2", "--reward", "vice",
         "--vice.examples", tmp / "examples", "--vice.train-every", "1", "--vice.classifier.positives", "8",
         "--vice.classifier.negatives", "8", "--vice.classifier.network.hidden", "16", "--vice.query-every", "1",
         "--vice.oracle", "cell", "--online", tmp / "online", "--out", tmp / "run", "--dist.check-every", "2",
         // Every shard is in before the first update, so the question comes at once.
         "--min-transitions", std::to_string(DatasetReader({tmp / "online"}).num_transitions())});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  // A rank whose examples or labelled negatives missed an answer fails the checksums (every 2 steps).
  RequireAllOk(RunRanks(train({"--steps", "30"}), 2));
  const auto check_questions = [&](size_t expected) {
    const nlohmann::json meta = ReadCheckpointMetadata(tmp / "run/latest.ckpt");
    INFO(meta.dump());
    const QueryQueue queue(tmp / "run/queries", /*create=*/false);
    // Rank 0's questions (one per run here: no online data arrives after the first), each answered by the
    // oracle at once and shared before the next checksum.
    CHECK(queue.Queries().size() == expected);
    CHECK(queue.ReadAnswers().answers.size() == expected);
    const int64_t successes = meta["vice_queries"]["answered_success"].get<int64_t>();
    CHECK(meta["vice_queries"]["asked"].get<size_t>() == expected);
    CHECK(static_cast<size_t>(successes + meta["vice_queries"]["answered_failure"].get<int64_t>()) == expected);
    CHECK(meta["vice_examples"]["train"].get<int64_t>() ==
          8 - meta["vice_examples"]["holdout"].get<int64_t>() + successes);
  };
  check_questions(1);
  // Resumed with new online data: rank 0 re-reads the standing answer and shares it before the ranks compare
  // their starting replicas, then asks again.
  testing::CollectPush(tmp / "online", "random", 2, 5, cell);
  RequireAllOk(RunRanks(train({"--steps", "60", "--resume"}), 2));
  check_questions(2);
  // Its share of the classifier's batch must divide by the ranks.
  const auto odd = RunRanks(SmallSac({"--reward", "vice", "--vice.examples", tmp / "examples",
                                      "--vice.classifier.positives", "7", "--online", tmp / "online", "--out",
                                      tmp / "odd", "--steps", "2"}),
                            2);
  for (const auto& r : odd) {
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--vice.classifier.positives and --vice.classifier.negatives must divide by the 2 ranks") !=
          std::string::npos);
  }
}

TEST_CASE("data-parallel: bad values and mismatched ranks get one line and exit code 2") {
  testing::TempDir tmp;
  CollectPendulum(tmp / "data");
  const auto base = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = SmallSac({"--data", tmp / "data", "--out", tmp / "run", "--steps", "4"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  const auto expect_usage = [](const ProcessResult& r, const std::string& fragment) {
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(fragment) != std::string::npos);
  };
  expect_usage(RunProcess(base({"--dist.world-size", "2"})), "needs this process's rank: give --dist.rank R");
  expect_usage(RunProcess(base({"--dist.world-size", "2", "--dist.rank", "2", "--dist.init", "tcp://127.0.0.1:1"})),
               "rank 2 is outside a world of 2");
  expect_usage(RunProcess(base({"--dist.world-size", "3", "--dist.rank", "0", "--dist.init", "tcp://127.0.0.1:1"})),
               "--batch-size 16 must divide by the 3 ranks");
  expect_usage(RunProcess(base({"--dist.init", "tcp://127.0.0.1:x", "--dist.world-size", "2", "--dist.rank", "0"})),
               "--dist.init's port must be a whole number");
  expect_usage(RunProcess(base({"--dist.backend", "nccl", "--dist.world-size", "2", "--dist.rank", "0",
                                "--dist.init", "tcp://127.0.0.1:1"})),
               "--dist.backend nccl needs --device cuda");
  expect_usage(RunProcess(base({"--dist.shards", "disjoint", "--dist.sampling", "shared"})),
               "--dist.shards disjoint needs --dist.sampling independent");
  expect_usage(RunProcess(base({"--dist.shards", "half"})), "--dist.shards must be all or disjoint, got 'half'");

  // Ranks started with different world sizes or settings: both refuse, naming the difference.
  const std::string init = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  ChildProcess rank0(base({"--dist.init", init, "--dist.rank", "0", "--dist.world-size", "2"}));
  ChildProcess rank1(base({"--dist.init", init, "--dist.rank", "1", "--dist.world-size", "2", "--seed", "9"}));
  const ProcessResult r0 = rank0.Wait(), r1 = rank1.Wait();
  expect_usage(r0, "rank 1's settings differ from rank 0's: 'seed: 9' on rank 1, 'seed: 0' here");
  expect_usage(r1, "rank 1's settings differ from rank 0's: 'seed: 9' here, 'seed: 0' on rank 0");
  const std::string other = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  ChildProcess wide0(base({"--dist.init", other, "--dist.rank", "0", "--dist.world-size", "2"}));
  ChildProcess wide1(base({"--dist.init", other, "--dist.rank", "1", "--dist.world-size", "4"}));
  expect_usage(wide1.Wait(), "'world_size: 4' here, 'world_size: 2' on rank 0");
  expect_usage(wide0.Wait(), "'world_size: 4' on rank 1, 'world_size: 2' here");
}

}  // namespace
}  // namespace perpetua
