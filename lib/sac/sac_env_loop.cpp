#include "sac/sac_env_loop.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/rng.h"

namespace perpetua {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Copies a [1,...] CPU tensor into row `row` of `rows` (same dtype, contiguous).
void CopyRow(const torch::Tensor& one, torch::Tensor& rows, int64_t row) {
  const size_t bytes = one.numel() * one.element_size();
  std::memcpy(static_cast<char*>(rows.data_ptr()) + row * bytes, one.contiguous().data_ptr(), bytes);
}

}  // namespace

SacReplay::SacReplay(const InputSpec& spec, int64_t capacity) : spec_(spec), capacity_(capacity) {
  if (!spec.image_keys.empty()) {
    const int64_t channels = 3 * static_cast<int64_t>(spec.image_keys.size());
    image_ = torch::empty({capacity, spec.height, spec.width, channels}, torch::kUInt8);
    next_image_ = torch::empty_like(image_);
  }
  proprio_ = torch::empty({capacity, spec.proprio_dim});
  next_proprio_ = torch::empty_like(proprio_);
  action_ = torch::empty({capacity, spec.action_dim()});
  reward_ = torch::empty({capacity});
  terminated_ = torch::empty({capacity});
}

void SacReplay::Add(const torch::Tensor& image, const torch::Tensor& proprio, const std::vector<float>& action,
                    double reward, bool terminated, const torch::Tensor& next_image,
                    const torch::Tensor& next_proprio) {
  if (!spec_.image_keys.empty()) {
    CopyRow(image, image_, next_);
    CopyRow(next_image, next_image_, next_);
  }
  CopyRow(proprio, proprio_, next_);
  CopyRow(next_proprio, next_proprio_, next_);
  std::memcpy(action_.data_ptr<float>() + next_ * spec_.action_dim(), action.data(), action.size() * sizeof(float));
  reward_.data_ptr<float>()[next_] = static_cast<float>(reward);
  terminated_.data_ptr<float>()[next_] = terminated ? 1.0f : 0.0f;
  next_ = (next_ + 1) % capacity_;
  size_ = std::min(size_ + 1, capacity_);
}

TensorBatch SacReplay::Sample(int batch_size, at::Generator& generator, const torch::Device& device) const {
  const torch::Tensor index = at::randint(size_, {batch_size}, generator, torch::TensorOptions().dtype(torch::kLong));
  auto take = [&](const torch::Tensor& rows) { return rows.index_select(0, index).to(device); };
  TensorBatch batch;
  if (!spec_.image_keys.empty()) {
    batch.image = take(image_);
    batch.next_image = take(next_image_);
  }
  batch.proprio = take(proprio_);
  batch.next_proprio = take(next_proprio_);
  batch.action = take(action_);
  batch.reward = take(reward_);
  batch.terminated = take(terminated_);
  return batch;
}

SacEnvLoopResult RunSacOnEnv(Env& env, SacAgent& learner, const SacEnvLoopOptions& options) {
  const auto start = Clock::now();
  const SacConfig& config = learner.config();
  if (config.n_step != 1) {
    Fail(ExitCode::kUsage, "n-step returns (--sac.n-step) are served by rl-train's buffers, not this in-process loop");
  }
  const InputSpec& spec = learner.spec();
  const ActionSpec& box = env.spec().action;
  SacReplay replay(spec, options.replay_capacity > 0 ? options.replay_capacity : options.env_steps);
  Rng rng(DeriveSeed(options.seed, 0, 0));
  at::Generator generator = at::detail::createCPUGenerator(DeriveSeed(options.seed, 0, 1));
  const torch::Device cpu(torch::kCPU);
  SacEnvLoopResult result;
  torch::Tensor image, proprio, next_image, next_proprio;
  auto reset = [&]() {
    auto t = Clock::now();
    const ResetResult reset = env.Reset(DeriveSeed(options.seed, 1, result.episodes++));
    result.env += Since(t);
    ObservationToTensors(reset.observation, spec, cpu, &image, &proprio);
  };
  reset();
  double owed_updates = 0.0;
  std::vector<float> action(box.dim());
  for (int64_t step = 0; step < options.env_steps; ++step) {
    auto t = Clock::now();
    if (step < config.warmup_steps) {
      for (int i = 0; i < box.dim(); ++i) action[i] = static_cast<float>(rng.Uniform(box.low[i], box.high[i]));
    } else {
      const torch::Tensor a = learner.acting().Act(image.defined() ? image.to(learner.device()) : image,
                                                   proprio.to(learner.device()), SacActionMode::kSample, generator)
                                  .to(cpu);
      std::memcpy(action.data(), a.data_ptr<float>(), action.size() * sizeof(float));
    }
    result.acting += Since(t);
    t = Clock::now();
    const StepResult stepped = env.Step(action);
    result.env += Since(t);
    t = Clock::now();
    ObservationToTensors(stepped.observation, spec, cpu, &next_image, &next_proprio);
    replay.Add(image, proprio, action, stepped.reward, stepped.terminated, next_image, next_proprio);
    result.replay += Since(t);
    if (stepped.terminated || stepped.truncated) {
      reset();
    } else {
      image = next_image;
      proprio = next_proprio;
    }
    if (step + 1 < config.warmup_steps) continue;
    for (owed_updates += config.updates_per_step; owed_updates >= 1.0; owed_updates -= 1.0) {
      t = Clock::now();
      const TensorBatch batch = replay.Sample(config.batch_size, generator, learner.device());
      result.replay += Since(t);
      t = Clock::now();
      learner.Update(batch, generator);
      result.update += Since(t);
      ++result.updates;
    }
  }
  result.wall = Since(start);
  return result;
}

double MeanReturn(Env& env, Policy& policy, int episodes, uint64_t seed) {
  double total = 0.0;
  for (int i = 0; i < episodes; ++i) {
    const uint64_t episode_seed = DeriveSeed(seed, 2, i);
    policy.BeginEpisode(episode_seed);
    Observation observation = env.Reset(episode_seed).observation;
    for (;;) {
      const StepResult result = env.Step(policy.Act(observation, nlohmann::json::object()));
      total += result.reward;
      if (result.terminated || result.truncated) break;
      observation = result.observation;
    }
  }
  return total / episodes;
}

}  // namespace perpetua
