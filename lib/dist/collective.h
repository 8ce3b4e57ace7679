// The ranks of one data-parallel run talking through PyTorch's own engine,
// c10d: a TCPStore for the rendezvous and a process group (Gloo on CPU,
// NCCL on CUDA builds) for the collectives. One Collective per process.
//
//   Collective c = Collective::Connect(plan, fingerprint);   // rendezvous + settings check
//   c.AverageGradients(grads);     // every update, after backward, before the optimiser step
//   c.CheckReplicas(tensors, step);// every --dist.check-every steps: replicas must be identical
//   if (c.AnyOf(stop_requested))   // the ranks stop at the same step
//
// Every call is collective: all ranks make the same calls in the same order.
// A rank that dies, or does not answer within --dist.timeout-s, makes the
// others fail with Error(kPeerLost) (exit code 9) naming the operation;
// nothing hangs forever. Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/dist_config.h"

namespace perpetua {

class Collective {
 public:
  // Meets the other ranks at plan.host:plan.port (rank 0 serves the store
  // there), then compares `fingerprint` (DistFingerprint of the effective
  // settings, plus what the ranks resume from) with rank 0's. Throws
  // Error(kUsage) "rendezvous ...: port in use" when rank 0 cannot listen,
  // Error(kUsage) naming the first difference when settings differ (on every
  // rank), Error(kPeerLost) when the others do not arrive within the timeout.
  static std::unique_ptr<Collective> Connect(const DistPlan& plan, const std::string& fingerprint);
  ~Collective();
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;

  int rank() const { return plan_.rank; }
  int world_size() const { return plan_.world_size; }
  const DistPlan& plan() const { return plan_; }

  // Replaces each tensor by its mean over the ranks, in place. Bucketed:
  // tensors are packed into flat buffers of at most 25 MB (DDP's default
  // bucket) and each bucket is one all-reduce. Undefined tensors are skipped
  // (the same ones on every rank).
  void AverageGradients(const std::vector<torch::Tensor>& grads);
  // The mean over the ranks of one number.
  double Mean(double value);
  // True on every rank when `flag` is true on any.
  bool AnyOf(bool flag);
  // Rank 0's `tensor` (on the CPU, at most 7 dimensions) on every rank. The
  // other ranks pass a tensor of the same dtype (any shape: it is ignored).
  torch::Tensor FromRankZero(const torch::Tensor& tensor);
  // Fails with Error(kInternal) "replicas diverged at step N: ..." unless
  // the checksums (sum and sum of squares, in double) of `tensors` agree
  // exactly on every rank.
  void CheckReplicas(const std::vector<torch::Tensor>& tensors, int64_t step);
  // Waits for every rank.
  void Barrier(const std::string& what);

  // Seconds spent in collectives so far (for the run's metrics and benches).
  double seconds() const { return seconds_; }

 private:
  struct Impl;
  Collective(const DistPlan& plan, std::unique_ptr<Impl> impl);
  void Run(const std::string& what, std::vector<torch::Tensor>& tensors, bool max);

  DistPlan plan_;
  std::unique_ptr<Impl> impl_;
  double seconds_ = 0.0;
};

// c10d and Gloo log their own lines (through glog) for failures that the
// callers turn into one Error line: while one of these lives, only fatal ones show.
class QuietC10dLogs {
 public:
  QuietC10dLogs();
  ~QuietC10dLogs();
  QuietC10dLogs(const QuietC10dLogs&) = delete;
  QuietC10dLogs& operator=(const QuietC10dLogs&) = delete;

 private:
  int saved_;
};

// Averages the gradients of `parameters` over the ranks; nothing without a
// collective (one process).
void AverageGradients(Collective* collective, const std::vector<torch::Tensor>& parameters);

}  // namespace perpetua
