// QT-Opt's Bellman-target workers as processes (qtopt/remote_targets.h): a
// real `rl-train q-targets` process labels exactly as the thread worker of
// the same index does for the same weights and batches; the trainer runs
// end to end with two of them; a dead worker or trainer ends the other with
// exit code 9 within the timeout; bad flags are one line.
// LibTorch before doctest: c10 includes glog, whose CHECK would replace doctest's.
#include "qtopt/remote_targets.h"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include "common/fs.h"
#include "qtopt/memory_replay.h"
#include "qtopt/rl_train_fixture.h"
#include "qtopt/target_pipeline.h"
#include "replay/replay_mix.h"
#include "support/expect_error.h"
#include "support/free_port.h"
#include "support/test_support.h"

namespace perpetua {
namespace {
using testing::ChildProcess;
using testing::ProcessResult;
using testing::RunProcess;
using testing::ToolPath;

struct Fixture {
  std::unique_ptr<ReplayData> data = testing::ToyFactory(6)({"memory"}, {});
  ReplayMix mix{data.get(), 0.0};
  QInputSpec spec = QInputSpec::FromEnvSpec(data->spec(), "toy");
  QNetwork t1{nullptr}, t2{nullptr};
  CemConfig cem;
  BellmanConfig bellman;
  AugmentConfig augment;
  Fixture() {
    QNetworkConfig network;
    network.encoder_channels = {8, 8};
    network.hidden = 16;
    torch::manual_seed(3);
    t1 = QNetwork(network, spec);
    t2 = QNetwork(network, spec);
    t1->eval();
    t2->eval();
    cem.samples = 16;
    cem.elites = 4;
    augment.shift = 2;
  }
  std::unique_ptr<TargetPipeline> Pipeline(const TargetWorkerConfig& workers) {
    return std::make_unique<TargetPipeline>(
        workers, cem, bellman, augment, *t1, *t2,
        [this](Rng& r, int* online) { return mix.Sample(8, r, online); }, "toy", /*seed=*/7, /*generation=*/2);
  }
};

std::vector<std::string> Worker(const std::string& connect, int index, const std::string& timeout = "30") {
  return {ToolPath("rl-train"), "q-targets", "--connect", connect, "--index", std::to_string(index), "--timeout-s",
          timeout};
}

TEST_CASE("a target worker process labels exactly as the thread worker of its index") {
  Fixture f;
  TargetWorkerConfig threads;
  threads.count = 1;
  threads.queue = 1;
  std::vector<LabeledBatch> expected;
  {
    auto pipeline = f.Pipeline(threads);
    Rng unused(0);
    at::Generator generator = at::detail::createCPUGenerator(0);
    for (int i = 0; i < 3; ++i) expected.push_back(pipeline->Next(unused, generator, *f.t1, *f.t2));
  }
  TargetWorkerConfig processes = threads;
  processes.listen = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  processes.timeout_s = 60;
  ChildProcess worker(Worker(processes.listen, 0));
  {
    auto pipeline = f.Pipeline(processes);
    Rng unused(0);
    at::Generator generator = at::detail::createCPUGenerator(0);
    for (int i = 0; i < 3; ++i) {
      const LabeledBatch got = pipeline->Next(unused, generator, *f.t1, *f.t2);
      CHECK(torch::equal(got.target, expected[i].target));
      CHECK(torch::equal(got.image, expected[i].image));  // the same shifts
      CHECK(torch::equal(got.action, expected[i].action));
      CHECK(got.stats.target_mean == expected[i].stats.target_mean);
    }
    // Published weights reach the worker: new targets change the labels.
    torch::NoGradGuard no_grad;
    for (auto& p : f.t1->parameters()) p.add_(0.5);
    pipeline->Publish(*f.t1, *f.t2);
    bool changed = false;
    for (int i = 0; i < 6 && !changed; ++i) {
      const LabeledBatch got = pipeline->Next(unused, generator, *f.t1, *f.t2);
      changed = got.stats.next_value_mean != expected[i % 3].stats.next_value_mean;
    }
    CHECK(changed);
  }
  const ProcessResult r = worker.Wait();  // the pipeline told it to stop
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("rl-train q with two target worker processes - a dead worker stops the trainer with exit code 9") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 6);
  std::string listen = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  {
    ChildProcess trainer(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--steps", "12",
                                               "--target-workers.count", "2", "--target-workers.listen", listen}));
    ChildProcess w0(Worker(listen, 0)), w1(Worker(listen, 1));
    const ProcessResult t = trainer.Wait(), r0 = w0.Wait(), r1 = w1.Wait();
    INFO(t.err << r0.err << r1.err);
    CHECK(t.exit_code == 0);
    CHECK(t.out == tmp / "run/latest.ckpt\n");
    CHECK(r0.exit_code == 0);
    CHECK(r1.exit_code == 0);
    CHECK(r1.err.find("batches labelled") != std::string::npos);
  }
  listen = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  ChildProcess trainer(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run2", "--steps", "100000000",
                                             "--target-workers.count", "1", "--target-workers.listen", listen,
                                             "--target-workers.timeout-s", "5"}));
  ChildProcess worker(Worker(listen, 0));
  while (!IsRegularFile(tmp / "run2/trainer.step")) usleep(20000);
  usleep(500000);
  worker.Signal(SIGKILL);
  const ProcessResult t = trainer.Wait();
  INFO(t.err);
  CHECK(t.exit_code == 9);
  CHECK(t.err.find("target worker 0 (died or stalled?): no answer within 5 s") != std::string::npos);
}

TEST_CASE("rl-train q-targets: bad flags and no trainer") {
  testing::TempDir tmp;
  testing::WriteToyShards(tmp / "data", 3);
  ProcessResult r = RunProcess({ToolPath("rl-train"), "q-targets"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--connect") != std::string::npos);
  r = RunProcess({ToolPath("rl-train"), "q-targets", "--connect", "127.0.0.1:1"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--connect must be tcp://HOST:PORT, got '127.0.0.1:1'") != std::string::npos);
  r = RunProcess(Worker("tcp://127.0.0.1:" + std::to_string(testing::FreePort()), 0, "1"));
  CHECK(r.exit_code == 9);
  CHECK(r.err.find("target worker 0, --connect tcp://127.0.0.1:") != std::string::npos);
  r = RunProcess(testing::SmallQTrain({"--data", tmp / "data", "--out", tmp / "run", "--target-workers.listen",
                                       "tcp://h:1", "--target-workers.count", "0"}));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--target-workers.listen needs --target-workers.count >= 1") != std::string::npos);
}

}  // namespace
}  // namespace perpetua
