// Off-policy SAC on a live Env in one process: an in-memory replay ring, a
// warm-up of uniform random actions, then actions sampled from the policy and
// `updates_per_step` updates per environment step. The pendulum benchmark and
// the learning test run it (until `rl-train sac` runs the loop through the
// training run and the online stream).
// Include only from LibTorch translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "env/env.h"
#include "policy/policy.h"
#include "nn/tensor_batch.h"
#include "sac/sac_agent.h"

namespace perpetua {

// Transitions of one run, in preallocated CPU tensors (oldest overwritten when full).
class SacReplay {
 public:
  SacReplay(const InputSpec& spec, int64_t capacity);
  // Stores one transition. image/proprio: one state as ObservationToTensors
  // makes it on the CPU ([1,H,W,3k] uint8, undefined without images; [1,P]);
  // `action` (A) in the box.
  void Add(const torch::Tensor& image, const torch::Tensor& proprio, const std::vector<float>& action,
           double reward, bool terminated, const torch::Tensor& next_image, const torch::Tensor& next_proprio);
  // `batch_size` transitions drawn uniformly with replacement from `generator`, on `device`.
  TensorBatch Sample(int batch_size, at::Generator& generator, const torch::Device& device) const;
  int64_t size() const { return size_; }

 private:
  InputSpec spec_;
  int64_t capacity_, size_ = 0, next_ = 0;
  torch::Tensor image_, proprio_, action_, reward_, terminated_, next_image_, next_proprio_;
};

struct SacEnvLoopOptions {
  int64_t env_steps = 10000;     // environment steps in all (warm-up included)
  int64_t replay_capacity = 0;   // 0: env_steps
  uint64_t seed = 0;             // warm-up actions, episode seeds, replay sampling
};

// Where the run's wall time went (seconds).
struct SacEnvLoopResult {
  int64_t updates = 0, episodes = 0;
  double wall = 0.0;        // the whole loop
  double env = 0.0;         // Env::Reset and Env::Step
  double acting = 0.0;      // policy actions (warm-up draws included)
  double replay = 0.0;      // storing and sampling transitions
  double update = 0.0;      // SacAgent::Update (its split: learner.times())
};

// Runs the loop described in the file comment with the learner's config
// (warmup_steps, updates_per_step, batch_size). Episode i is reset with
// DeriveSeed(seed, 1, i). Throws what Env and SacAgent::Update throw.
SacEnvLoopResult RunSacOnEnv(Env& env, SacAgent& learner, const SacEnvLoopOptions& options);

// Mean undiscounted return of `episodes` episodes of `policy` on `env`,
// episode i seeded DeriveSeed(seed, 2, i).
double MeanReturn(Env& env, Policy& policy, int episodes, uint64_t seed);

}  // namespace perpetua
