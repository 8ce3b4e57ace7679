// Bellman-target workers (QT-Opt's "Bellman updaters"): threads that sample
// minibatches, shift their images (AugmentConfig; off by default), compute
// their targets by CEM over the next states with their own copy of the target
// networks, and queue labelled batches to the trainer, so target computation
// runs asynchronously from the gradient steps.
//
// With --target-workers.listen, the workers are processes (qtopt/remote_targets.h):
// worker thread I samples as above and worker process I labels.
//
// With 0 workers, Next() samples and labels inline on the calling thread with
// the caller's generators and the current target networks: fully
// deterministic (the resume and determinism tests run this way). With N > 0
// workers, each worker has its own Rng/generator derived from (seed, worker,
// generation) and uses the target weights most recently Publish()ed, so
// labels may lag the trainer by a few steps (as in QT-Opt).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "data/transition_batch.h"
#include "qtopt/bellman.h"
#include "qtopt/qtopt_config.h"
#include "nn/tensor_batch.h"

namespace perpetua {

class TargetWorkerHost;

// What every target worker does to a batch (threads, inline and
// processes alike): shifts its images (AugmentConfig) in place, then
// computes its Bellman targets [B] with `generator`.
torch::Tensor LabelTensors(TensorBatch* batch, QNetworkImpl& target1, QNetworkImpl& target2, const CemConfig& cem,
                           const BellmanConfig& bellman, const AugmentConfig& augment, at::Generator& generator,
                           TargetStats* stats);


// A minibatch with Bellman targets, ready for QLearner::Update.
struct LabeledBatch {
  torch::Tensor image, proprio, action;  // [B,H,W,3] uint8, [B,P], [B,A]
  torch::Tensor target;                  // [B] in [0,1]
  TargetStats stats;
  int online_count = 0;                  // transitions drawn from the online buffer
  double label_seconds = 0.0;            // time spent sampling + labelling this batch
};

class TargetPipeline {
 public:
  // Draws a raw minibatch; must be thread-safe when workers > 0.
  using SampleFn = std::function<TransitionBatch(Rng& rng, int* online_count)>;

  // Starts `config.count` workers; they wait for the first Publish().
  // `target1`/`target2` give the architecture (and initial weights) of the
  // workers' copies. `generation` distinguishes worker streams across resumes.
  TargetPipeline(const TargetWorkerConfig& config, const CemConfig& cem, const BellmanConfig& bellman,
                 const AugmentConfig& augment, QNetworkImpl& target1, QNetworkImpl& target2,
                 SampleFn sample, std::string source, uint64_t seed, uint64_t generation);
  ~TargetPipeline();  // stops and joins the workers
  TargetPipeline(const TargetPipeline&) = delete;
  TargetPipeline& operator=(const TargetPipeline&) = delete;

  // Hands the current target weights to the workers (copied; cheap for the trainer).
  void Publish(QNetworkImpl& target1, QNetworkImpl& target2);

  // The next labelled batch. Inline mode: samples with `rng`, labels with
  // `target1`/`target2` and `generator`. Worker mode: pops the queue (blocks).
  // Rethrows a worker's error (e.g. Error(kBadData) for mismatched data).
  LabeledBatch Next(Rng& rng, at::Generator& generator, QNetworkImpl& target1, QNetworkImpl& target2);

  // Seconds Next() spent blocked waiting for workers.
  double wait_seconds() const { return wait_seconds_; }
  int workers() const { return config_.count; }

 private:
  struct Snapshot;
  void WorkerLoop(int index);
  void RemoteLoop(int index, Rng& rng);
  LabeledBatch Label(const TransitionBatch& batch, int online_count, QNetworkImpl& t1, QNetworkImpl& t2,
                     at::Generator& generator);

  TargetWorkerConfig config_;
  CemConfig cem_;
  BellmanConfig bellman_;
  AugmentConfig augment_;
  SampleFn sample_;
  std::string source_;
  uint64_t seed_, generation_;
  torch::Device device_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<LabeledBatch> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
  int64_t version_ = 0;                  // published target version
  std::unique_ptr<Snapshot> snapshot_;   // published target weights
  std::unique_ptr<TargetWorkerHost> host_;  // worker processes (listen set), else null
  QInputSpec spec_;
  std::vector<std::thread> threads_;
  double wait_seconds_ = 0.0;
};

}  // namespace perpetua
