#include "qtopt/remote_targets.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "common/signals.h"
#include "dist/collective.h"
#include "dist/dist_config.h"
#include "nn/checkpoint.h"
#include "nn/tensor_io.h"
#include "qtopt/q_checkpoint.h"
#include "qtopt/target_pipeline.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<uint8_t> Bytes(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }
std::string Text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

// Tensors as one byte string: a count, then each tensor's TensorToBytes with its length.
std::string Pack(const std::vector<torch::Tensor>& tensors) {
  std::string out;
  const auto put = [&](uint64_t n) { out.append(reinterpret_cast<const char*>(&n), sizeof(n)); };
  put(tensors.size());
  for (const auto& t : tensors) {
    const std::string bytes = TensorToBytes(t.contiguous());
    put(bytes.size());
    out += bytes;
  }
  return out;
}

std::vector<torch::Tensor> Unpack(const std::string& bytes, size_t expected, const std::string& source) {
  size_t at = 0;
  const auto get = [&]() {
    uint64_t n = 0;
    if (at + sizeof(n) > bytes.size()) Fail(ExitCode::kPeerLost, source + ": truncated message");
    std::memcpy(&n, bytes.data() + at, sizeof(n));
    at += sizeof(n);
    return n;
  };
  const uint64_t count = get();
  if (count != expected) Fail(ExitCode::kPeerLost, source + ": a message of " + std::to_string(count) + " tensors");
  std::vector<torch::Tensor> tensors;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t n = get();
    if (at + n > bytes.size()) Fail(ExitCode::kPeerLost, source + ": truncated message");
    tensors.push_back(TensorFromBytes(bytes.substr(at, n), source));
    at += n;
  }
  return tensors;
}

c10::intrusive_ptr<c10d::Store> OpenStore(const TcpAddress& address, bool server, double timeout_s,
                                          const std::string& what) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(address.port);
  options.isServer = server;
  options.waitWorkers = false;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  try {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(address.host, options);
    return c10::make_intrusive<c10d::PrefixStore>("targets", tcp);
  } catch (const std::exception& e) {
    const std::string message = e.what();
    if (server && (message.find("in use") != std::string::npos || message.find("EADDRINUSE") != std::string::npos)) {
      Fail(ExitCode::kUsage, what + ": the port " + std::to_string(address.port) + " is in use");
    }
    Fail(ExitCode::kPeerLost, what + ": cannot reach " + address.host + ":" + std::to_string(address.port) +
                                  " within " + std::to_string(static_cast<int>(timeout_s)) + " s");
  }
}

// Polls until `key` exists (true), `give_up()` says to stop (false), or the
// timeout passes (Error(kPeerLost) "<what>").
template <class GiveUp>
bool WaitKey(c10d::Store& store, const std::string& key, double timeout_s, const std::string& what, GiveUp give_up) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  int idle = 0;
  while (true) {
    try {
      if (store.check({key})) return true;
    } catch (const std::exception& e) {
      Fail(ExitCode::kPeerLost, what + ": the connection failed (" + std::string(e.what()).substr(0, 200) + ")");
    }
    if (give_up()) return false;
    if (Clock::now() > deadline) {
      Fail(ExitCode::kPeerLost, what + ": no answer within " + std::to_string(static_cast<int>(timeout_s)) + " s");
    }
    // Spin briefly (labels come within milliseconds), then back off to 1 ms.
    if (++idle > 200) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

struct TargetWorkerHost::Impl {
  QuietC10dLogs quiet;
  c10::intrusive_ptr<c10d::Store> store;
  double timeout_s = 120.0;
  std::mutex publish;
  int64_t version = 0;
  std::vector<int64_t> next;  // per worker: the next batch number
  std::atomic<bool> stopping{false};
};

TargetWorkerHost::TargetWorkerHost(const std::string& listen, int count, double timeout_s)
    : impl_(std::make_unique<Impl>()) {
  const TcpAddress address = ParseTcpAddress(listen, "--target-workers.listen");
  impl_->timeout_s = timeout_s;
  impl_->next.assign(static_cast<size_t>(count), 0);
  impl_->store = OpenStore(address, /*server=*/true, timeout_s, "--target-workers.listen " + listen);
  LogInfo("waiting for " + std::to_string(count) + " target worker process(es): rl-train q-targets --connect tcp://" +
          "THIS-HOST:" + std::to_string(address.port) + " --index 0.." + std::to_string(count - 1));
  for (int i = 0; i < count; ++i) {
    WaitKey(*impl_->store, "hello/" + std::to_string(i), timeout_s,
            "target worker " + std::to_string(i) + " never connected", [] { return StopRequested(); });
  }
  LogInfo("target worker processes connected: " + std::to_string(count));
}

TargetWorkerHost::~TargetWorkerHost() {
  // Tell the workers, and keep serving the store until each says goodbye
  // (a worker finishing its batch must not find the store gone).
  try {
    impl_->store->set("stop", Bytes("1"));
    const auto deadline = Clock::now() + std::chrono::duration<double>(std::min(impl_->timeout_s, 10.0));
    for (size_t i = 0; i < impl_->next.size(); ++i) {
      while (!impl_->store->check({"bye/" + std::to_string(i)}) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  } catch (const std::exception&) {
  }
}

void TargetWorkerHost::Publish(QNetworkImpl& target1, QNetworkImpl& target2, const CemConfig& cem,
                               const BellmanConfig& bellman, const AugmentConfig& augment, uint64_t seed,
                               uint64_t generation) {
  std::lock_guard<std::mutex> lock(impl_->publish);
  CheckpointContents contents;
  PutNetwork(target1, "net.target1", &contents);
  PutNetwork(target2, "net.target2", &contents);
  CemConfig c = cem;
  BellmanConfig b = bellman;
  AugmentConfig a = augment;
  // What LoadQNetwork checks and builds from.
  contents.metadata["algorithm"] = kQtOptAlgorithm;
  contents.metadata["qtopt_format"] = kQtOptFormat;
  contents.metadata["network"] = target1.config().ToJson();
  contents.metadata["input_spec"] = target1.spec().ToJson();
  contents.metadata["version"] = ++impl_->version;
  contents.metadata["seed"] = seed;
  contents.metadata["generation"] = generation;
  contents.metadata["cem_yaml"] = ConfigToYaml(c);
  contents.metadata["bellman_yaml"] = ConfigToYaml(b);
  contents.metadata["augment_yaml"] = ConfigToYaml(a);
  try {
    impl_->store->set("weights", Bytes(SerializeCheckpoint(contents)));
    impl_->store->set("version", Bytes(std::to_string(impl_->version)));
  } catch (const std::exception& e) {
    Fail(ExitCode::kPeerLost, std::string("publishing target weights to the worker processes failed: ") + e.what());
  }
}

void TargetWorkerHost::Stop() { impl_->stopping = true; }

RemoteLabels TargetWorkerHost::Label(int index, const TensorBatch& batch) {
  const std::string n = std::to_string(index) + "/" + std::to_string(impl_->next[static_cast<size_t>(index)]++);
  const std::string what = "target worker " + std::to_string(index);
  try {
    impl_->store->set("batch/" + n, Bytes(Pack({batch.image, batch.proprio, batch.action, batch.reward,
                                                 batch.terminated, batch.next_image, batch.next_proprio})));
  } catch (const std::exception& e) {
    Fail(ExitCode::kPeerLost, what + ": sending a batch failed (" + std::string(e.what()).substr(0, 200) + ")");
  }
  if (!WaitKey(*impl_->store, "labels/" + n, impl_->timeout_s, what + " (died or stalled?)",
               [&] { return impl_->stopping.load(); })) {
    return {};
  }
  const std::string bytes = Text(impl_->store->get("labels/" + n));
  impl_->store->deleteKey("labels/" + n);
  const auto t = Unpack(bytes, 3, what);
  RemoteLabels labels;
  labels.image = t[0];
  labels.target = t[1];
  const double* s = t[2].data_ptr<double>();
  labels.stats = {s[0], s[1], s[2]};
  return labels;
}

void TargetWorkerProcessConfig::Validate() const {
  if (connect.empty()) Fail(ExitCode::kUsage, "--connect is required (tcp://HOST:PORT of the trainer)");
  ParseTcpAddress(connect, "--connect");
  if (index < 0) Fail(ExitCode::kUsage, "--index must be >= 0");
  if (threads < 1) Fail(ExitCode::kUsage, "--threads must be >= 1");
  if (!(timeout_s > 0)) Fail(ExitCode::kUsage, "--timeout-s must be positive");
}

ExitCode RunTargetWorker(const TargetWorkerProcessConfig& config) {
  config.Validate();
  QuietC10dLogs quiet;
  torch::set_num_threads(config.threads);
  const std::string me = "target worker " + std::to_string(config.index);
  auto store = OpenStore(ParseTcpAddress(config.connect, "--connect"), /*server=*/false, config.timeout_s,
                         me + ", --connect " + config.connect);
  // Every store operation: a failure means the trainer went away.
  const auto guarded = [&](auto operation) {
    try {
      return operation();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      Fail(ExitCode::kPeerLost, me + ": the trainer went away (" + std::string(e.what()).substr(0, 200) + ")");
    }
  };
  const std::string index = std::to_string(config.index);
  guarded([&] { store->set("hello/" + index, Bytes("1")); return 0; });
  LogInfo(me + " connected to " + config.connect);
  const auto stopped = [&] {
    if (StopRequested()) return true;
    try {
      return store->check({"stop"});
    } catch (const std::exception&) {
      Fail(ExitCode::kPeerLost, me + ": the trainer went away");
    }
    return true;
  };

  QNetwork t1{nullptr}, t2{nullptr};
  CemConfig cem;
  BellmanConfig bellman;
  AugmentConfig augment;
  std::unique_ptr<at::Generator> generator;
  std::string have_version;
  for (int64_t n = 0;; ++n) {
    const std::string key = "batch/" + std::to_string(config.index) + "/" + std::to_string(n);
    if (!WaitKey(*store, key, config.timeout_s, me + ": waiting for a batch", stopped)) {
      if (!StopRequested()) guarded([&] { store->set("bye/" + index, Bytes("1")); return 0; });
      LogInfo(me + ": the trainer stopped; " + std::to_string(n) + " batches labelled");
      return StopRequested() ? ExitCode::kInterrupted : ExitCode::kOk;
    }
    const std::string batch_bytes = guarded([&] { return Text(store->get(key)); });
    guarded([&] { return store->deleteKey(key); });
    const std::string version = guarded([&] { return Text(store->get("version")); });
    if (version != have_version) {
      const std::string weights = guarded([&] { return Text(store->get("weights")); });
      const CheckpointContents contents = ParseCheckpoint(weights, "the trainer's weights");
      LoadedQNetwork a = LoadQNetwork(contents, "the trainer's weights", torch::kCPU, "net.target1");
      LoadedQNetwork b = LoadQNetwork(contents, "the trainer's weights", torch::kCPU, "net.target2");
      if (!t1) {
        t1 = a.network;
        t2 = b.network;
        ConfigFromYaml(contents.metadata.at("cem_yaml").get<std::string>(), "the trainer's cem", cem);
        ConfigFromYaml(contents.metadata.at("bellman_yaml").get<std::string>(), "the trainer's bellman", bellman);
        ConfigFromYaml(contents.metadata.at("augment_yaml").get<std::string>(), "the trainer's augment", augment);
        const uint64_t seed = contents.metadata.at("seed"), generation = contents.metadata.at("generation");
        // The generator thread worker `index` would use (target_pipeline.cpp).
        generator = std::make_unique<at::Generator>(at::detail::createCPUGenerator(
            DeriveSeed(seed, 2000 + static_cast<uint64_t>(config.index), generation)));
      } else {
        CopyModuleState(*a.network, *t1);
        CopyModuleState(*b.network, *t2);
      }
      have_version = version;
    }
    const auto t = Unpack(batch_bytes, 7, me + ": a batch");
    TensorBatch batch;
    batch.image = t[0];
    batch.proprio = t[1];
    batch.action = t[2];
    batch.reward = t[3];
    batch.terminated = t[4];
    batch.next_image = t[5];
    batch.next_proprio = t[6];
    TargetStats stats;
    const torch::Tensor target = LabelTensors(&batch, *t1, *t2, cem, bellman, augment, *generator, &stats);
    const torch::Tensor figures =
        torch::tensor({stats.target_mean, stats.next_value_mean, stats.terminal_fraction}, torch::kDouble);
    const std::string labels = Pack({batch.image, target, figures});
    guarded([&] { store->set("labels/" + index + "/" + std::to_string(n), Bytes(labels)); return 0; });
  }
}

}  // namespace perpetua
