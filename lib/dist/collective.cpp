#include "dist/collective.h"

// ProcessGroupGloo.hpp declares the group only with this set (LibTorch's own build sets it).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef PERPETUA_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <glog/logging.h>

#include <chrono>
#include <sstream>

#include "common/error.h"
#include "common/log.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kBucketBytes = 25 << 20;  // DDP's default bucket_cap_mb

std::string FirstLine(const std::string& text) {
  const size_t end = text.find('\n');
  std::string line = end == std::string::npos ? text : text.substr(0, end);
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

std::vector<uint8_t> Bytes(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }
std::string Text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

bool Loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

}  // namespace

QuietC10dLogs::QuietC10dLogs() : saved_(FLAGS_minloglevel) {
  FLAGS_minloglevel = std::max(saved_, static_cast<int>(google::GLOG_FATAL));
}
QuietC10dLogs::~QuietC10dLogs() { FLAGS_minloglevel = saved_; }

struct Collective::Impl {
  QuietC10dLogs quiet;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::chrono::milliseconds timeout{60000};
};

Collective::Collective(const DistPlan& plan, std::unique_ptr<Impl> impl) : plan_(plan), impl_(std::move(impl)) {}
Collective::~Collective() = default;

std::unique_ptr<Collective> Collective::Connect(const DistPlan& plan, const std::string& fingerprint) {
  PERPETUA_CHECK(plan.enabled && plan.world_size >= 1);
  auto impl = std::make_unique<Impl>();
  impl->timeout = std::chrono::milliseconds(static_cast<int64_t>(plan.timeout_s * 1000.0));
  const std::string where = plan.host + ":" + std::to_string(plan.port);
  const std::string wait_hint = " (are all " + std::to_string(plan.world_size) + " ranks started?)";
  c10::intrusive_ptr<c10d::TCPStore> tcp;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(plan.port);
    options.isServer = plan.rank == 0;
    options.numWorkers = static_cast<size_t>(plan.world_size);
    options.waitWorkers = true;
    options.timeout = impl->timeout;
    tcp = c10::make_intrusive<c10d::TCPStore>(plan.host, options);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (plan.rank == 0 && (what.find("in use") != std::string::npos || what.find("EADDRINUSE") != std::string::npos)) {
      Fail(ExitCode::kUsage, "rendezvous " + where + ": the port is in use (choose another --dist.init or MASTER_PORT)");
    }
    Fail(ExitCode::kPeerLost, "rendezvous " + where + ": " + FirstLine(what) + wait_hint);
  }
  impl->store = c10::make_intrusive<c10d::PrefixStore>("perpetua", tcp);
  // The settings check: each rank against rank 0, and rank 0 against each.
  // Every rank reports a difference, so rank 0 (which serves the store) waits
  // until each rank has read its settings ("seen/R") before it may fail and
  // take the store down with it.
  try {
    impl->store->set("settings/" + std::to_string(plan.rank), Bytes(fingerprint));
    if (plan.rank != 0) {
      const std::string settings0 = Text(impl->store->get("settings/0"));
      impl->store->set("seen/" + std::to_string(plan.rank), Bytes("1"));
      const std::string difference = FingerprintDifference(fingerprint, settings0);
      if (!difference.empty()) {
        Fail(ExitCode::kUsage, "rank " + std::to_string(plan.rank) + "'s settings differ from rank 0's: " + difference);
      }
    } else {
      std::string first;
      std::vector<std::string> seen;
      for (int r = 1; r < plan.world_size; ++r) {
        seen.push_back("seen/" + std::to_string(r));
        const std::string difference =
            FingerprintDifference(Text(impl->store->get("settings/" + std::to_string(r))), fingerprint);
        if (!difference.empty() && first.empty()) {
          std::string line = difference;
          const std::string here = "' here, '", there = "' on rank 0";
          line.replace(line.find(here), here.size(), "' on rank " + std::to_string(r) + ", '");
          line.replace(line.rfind(there), there.size(), "' here");
          first = "rank " + std::to_string(r) + "'s settings differ from rank 0's: " + line;
        }
      }
      if (!seen.empty()) impl->store->wait(seen);
      if (!first.empty()) Fail(ExitCode::kUsage, first);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    Fail(ExitCode::kPeerLost, "rendezvous " + where + ", comparing settings: " + FirstLine(e.what()) + wait_hint);
  }
  try {
    if (plan.backend == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(impl->timeout);
      options->devices.push_back(Loopback(plan.host) ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                     : c10d::ProcessGroupGloo::createDefaultDevice());
      options->threads = 2;
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, plan.rank, plan.world_size, options);
    } else {
#ifdef PERPETUA_WITH_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = impl->timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, plan.rank, plan.world_size, options);
#else
      Fail(ExitCode::kUsage,
           "--dist.backend nccl: this build's LibTorch has no NCCL (Debian's is CPU-only); build against a CUDA "
           "LibTorch with -DTorch_DIR=... (docs/distributed.md)");
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    Fail(ExitCode::kPeerLost, "rendezvous " + where + ", connecting the " + plan.backend +
                                  " process group: " + FirstLine(e.what()) + wait_hint);
  }
  return std::unique_ptr<Collective>(new Collective(plan, std::move(impl)));
}

void Collective::Run(const std::string& what, std::vector<torch::Tensor>& tensors, bool max) {
  const auto start = Clock::now();
  try {
    c10d::AllreduceOptions options;
    options.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    options.timeout = impl_->timeout;
    auto work = impl_->group->allreduce(tensors, options);
    work->wait(impl_->timeout);
  } catch (const std::exception& e) {
    Fail(ExitCode::kPeerLost, "rank " + std::to_string(plan_.rank) + ", " + what + ": another rank died or did not " +
                                  "answer within --dist.timeout-s " + std::to_string(static_cast<int>(plan_.timeout_s)) +
                                  " (" + FirstLine(e.what()) + ")");
  }
  seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
}

void Collective::AverageGradients(const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  const double scale = 1.0 / plan_.world_size;
  // One tensor that fits a bucket is reduced in place (SAC's flat gradients).
  if (grads.size() == 1 && grads[0].defined() && grads[0].is_contiguous() &&
      grads[0].numel() * grads[0].element_size() <= kBucketBytes) {
    std::vector<torch::Tensor> one = {grads[0]};
    Run("averaging gradients", one, false);
    grads[0].mul_(scale);
    return;
  }
  size_t begin = 0;
  while (begin < grads.size()) {
    std::vector<torch::Tensor> bucket;
    int64_t bytes = 0;
    size_t end = begin;
    for (; end < grads.size(); ++end) {
      if (!grads[end].defined()) continue;
      const int64_t size = grads[end].numel() * grads[end].element_size();
      if (!bucket.empty() && bytes + size > kBucketBytes) break;
      bucket.push_back(grads[end].reshape({-1}));
      bytes += size;
    }
    if (!bucket.empty()) {
      std::vector<torch::Tensor> flat = {torch::cat(bucket)};
      Run("averaging gradients", flat, false);
      flat[0].mul_(scale);
      int64_t offset = 0;
      for (size_t i = begin; i < end; ++i) {
        if (!grads[i].defined()) continue;
        const int64_t n = grads[i].numel();
        grads[i].copy_(flat[0].narrow(0, offset, n).view_as(grads[i]));
        offset += n;
      }
    }
    begin = end;
  }
}

double Collective::Mean(double value) {
  std::vector<torch::Tensor> t = {torch::tensor({value}, torch::kDouble)};
  Run("averaging a figure", t, false);
  return t[0].item<double>() / plan_.world_size;
}

bool Collective::AnyOf(bool flag) {
  std::vector<torch::Tensor> t = {torch::tensor({flag ? 1 : 0}, torch::kInt)};
  Run("agreeing to stop", t, true);
  return t[0].item<int>() != 0;
}

torch::Tensor Collective::FromRankZero(const torch::Tensor& tensor) {
  torch::NoGradGuard no_grad;
  PERPETUA_CHECK(tensor.dim() <= 7);
  // The shape first (rank 0's, the others' zeros: the sum is rank 0's), then the values the same way.
  std::vector<torch::Tensor> shape = {torch::zeros({8}, torch::kLong)};
  if (plan_.rank == 0) {
    shape[0][0] = tensor.dim();
    for (int64_t d = 0; d < tensor.dim(); ++d) shape[0][d + 1] = tensor.size(d);
  }
  Run("sharing rank 0's data", shape, false);
  std::vector<int64_t> sizes;
  for (int64_t d = 0; d < shape[0][0].item<int64_t>(); ++d) sizes.push_back(shape[0][d + 1].item<int64_t>());
  // Summed as int64/double (Gloo sums every dtype, but not every build sums bytes).
  const bool integral = !at::isFloatingType(tensor.scalar_type());
  const auto wire = integral ? torch::kLong : torch::kDouble;
  std::vector<torch::Tensor> values = {plan_.rank == 0 ? tensor.to(wire).contiguous().clone()
                                                       : torch::zeros(sizes, torch::TensorOptions().dtype(wire))};
  if (values[0].numel() > 0) Run("sharing rank 0's data", values, false);
  return values[0].to(tensor.scalar_type());
}

void Collective::CheckReplicas(const std::vector<torch::Tensor>& tensors, int64_t step) {
  torch::NoGradGuard no_grad;
  double sum = 0.0, squares = 0.0;
  for (const auto& t : tensors) {
    if (!t.defined()) continue;
    const torch::Tensor d = t.detach().to(torch::kCPU, torch::kDouble);
    sum += d.sum().item<double>();
    squares += d.square().sum().item<double>();
  }
  // Max and -min in one all-reduce: they agree exactly only if every rank's do.
  std::vector<torch::Tensor> t = {torch::tensor({sum, squares, -sum, -squares}, torch::kDouble)};
  Run("comparing parameter checksums", t, true);
  const double* r = t[0].data_ptr<double>();
  if (r[0] != -r[2] || r[1] != -r[3]) {
    std::ostringstream line;
    line.precision(17);
    line << "replicas diverged at step " << step << ": parameter sums range over [" << -r[2] << ", " << r[0]
         << "] across ranks (this rank: " << sum << ")";
    Fail(ExitCode::kInternal, line.str());
  }
}

void Collective::Barrier(const std::string& what) {
  std::vector<torch::Tensor> t = {torch::zeros({1}, torch::kInt)};
  Run(what, t, true);
}

void AverageGradients(Collective* collective, const std::vector<torch::Tensor>& parameters) {
  if (!collective) return;
  std::vector<torch::Tensor> grads;
  grads.reserve(parameters.size());
  for (const auto& p : parameters) grads.push_back(p.grad());
  collective->AverageGradients(grads);
}

}  // namespace perpetua
