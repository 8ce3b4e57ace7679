// QT-Opt's Bellman-target workers as processes (the paper's "Bellman
// updaters" as separate jobs), on this machine or others. The trainer
// serves a c10d TCPStore; each worker process connects to it:
//
//   rl-train q ... --target-workers.count 2 --target-workers.listen tcp://0.0.0.0:29600
//   rl-train q-targets --connect tcp://TRAINER:29600 --index 0      (and --index 1)
//
// The trainer's pipeline thread for worker I samples the batch with the
// stream thread worker I would use and sends it; worker process I shifts
// its images and computes its CEM targets with the generator thread worker
// I would use and the target weights most recently published, and sends
// them back. So for the same weights and batch, process worker I labels
// exactly as thread worker I does (tested).
//
// Store keys (prefix "targets/"):
//   weights          checkpoint bytes: "net.target1", "net.target2" (with their
//                    config and input spec) and metadata {"version", "seed",
//                    "generation", "cem_yaml", "bellman_yaml", "augment_yaml"}
//   version          the published version (decimal), set after "weights"
//   hello/I          worker I has connected
//   batch/I/N        worker I's N-th batch; labels/I/N its labels (each taker deletes)
//   stop             the trainer is finishing: workers exit 0
// A worker that dies or stops answering makes the trainer fail with
// Error(kPeerLost) within the timeout, and the reverse.
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/tensor_batch.h"
#include "qtopt/bellman.h"
#include "qtopt/q_network.h"
#include "qtopt/qtopt_config.h"

namespace perpetua {

// What a labelled batch brings back from a worker.
struct RemoteLabels {
  torch::Tensor image;   // [B,H,W,3] uint8, shifted
  torch::Tensor target;  // [B]
  TargetStats stats;
};

// The trainer's side.
class TargetWorkerHost {
 public:
  // Serves the store on `listen`'s port and waits up to timeout_s for
  // `count` workers to say hello. Error(kUsage) for a malformed address or
  // a port in use, Error(kPeerLost) when the workers do not all come.
  TargetWorkerHost(const std::string& listen, int count, double timeout_s);
  ~TargetWorkerHost();  // tells the workers to stop
  TargetWorkerHost(const TargetWorkerHost&) = delete;
  TargetWorkerHost& operator=(const TargetWorkerHost&) = delete;

  // Publishes target weights and what labelling needs (thread-safe).
  void Publish(QNetworkImpl& target1, QNetworkImpl& target2, const CemConfig& cem, const BellmanConfig& bellman,
               const AugmentConfig& augment, uint64_t seed, uint64_t generation);
  // Sends `batch` to worker `index` and waits for its labels (one caller per
  // index). After Stop(): returns labels with an undefined target at once.
  RemoteLabels Label(int index, const TensorBatch& batch);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `rl-train q-targets` settings.
struct TargetWorkerProcessConfig {
  std::string connect;
  int index = 0;
  int threads = 1;
  double timeout_s = 120.0;
  void Visit(ConfigVisitor& v) {
    v.Field("connect", connect, "tcp://HOST:PORT of the trainer's --target-workers.listen", FieldKind::kRequired);
    v.Field("index", index, "this worker's index in [0, --target-workers.count)");
    v.Field("threads", threads, "intra-op threads");
    v.Field("timeout_s", timeout_s, "seconds to wait for the trainer before exiting with code 9");
  }
  void Validate() const;
};

// The worker process: labels batches until the trainer stops (kOk).
// Error(kPeerLost) when the trainer cannot be reached or goes away.
ExitCode RunTargetWorker(const TargetWorkerProcessConfig& config);

}  // namespace perpetua
