#include "rollout/exploration.h"

#include <algorithm>

#include "common/error.h"

namespace perpetua {
namespace {
// Rng streams of the decorators, distinct from any other use of the episode seed.
constexpr uint64_t kEpsilonStream = 0xE951;
constexpr uint64_t kNoiseStream = 0x0153;
constexpr uint64_t kMixtureStream = 0x313C;
}  // namespace

EpsilonGreedyPolicy::EpsilonGreedyPolicy(std::unique_ptr<Policy> greedy,
                                         std::unique_ptr<Policy> explore, double epsilon)
    : greedy_(std::move(greedy)), explore_(std::move(explore)), epsilon_(epsilon) {
  PERPETUA_CHECK(greedy_ && explore_);
  PERPETUA_CHECK(epsilon >= 0.0 && epsilon <= 1.0);
}

void EpsilonGreedyPolicy::BeginEpisode(uint64_t episode_seed) {
  greedy_->BeginEpisode(episode_seed);
  explore_->BeginEpisode(episode_seed);
  rng_ = Rng(DeriveSeed(episode_seed, kEpsilonStream, 0));
  explored_steps_ = 0;
}

std::vector<float> EpsilonGreedyPolicy::Act(const Observation& observation,
                                            const nlohmann::json& info) {
  std::vector<float> exploratory = explore_->Act(observation, info);
  if (epsilon_ > 0.0 && rng_.Uniform() < epsilon_) {
    ++explored_steps_;
    return exploratory;
  }
  return greedy_->Act(observation, info);
}

GaussianNoisePolicy::GaussianNoisePolicy(std::unique_ptr<Policy> base, ActionSpec spec,
                                         double stddev)
    : base_(std::move(base)), spec_(std::move(spec)), stddev_(stddev) {
  PERPETUA_CHECK(base_);
  PERPETUA_CHECK(stddev >= 0.0);
}

void GaussianNoisePolicy::BeginEpisode(uint64_t episode_seed) {
  base_->BeginEpisode(episode_seed);
  rng_ = Rng(DeriveSeed(episode_seed, kNoiseStream, 0));
}

std::vector<float> GaussianNoisePolicy::Act(const Observation& observation,
                                            const nlohmann::json& info) {
  std::vector<float> action = base_->Act(observation, info);
  if (static_cast<int>(action.size()) != spec_.dim()) return action;  // the runner reports it
  for (int i = 0; i < spec_.dim(); ++i) {
    const double half_range = 0.5 * (double(spec_.high[i]) - double(spec_.low[i]));
    const double noisy = action[i] + stddev_ * half_range * rng_.Normal();
    action[i] = static_cast<float>(std::clamp(noisy, double(spec_.low[i]), double(spec_.high[i])));
  }
  return action;
}

EpisodeMixturePolicy::EpisodeMixturePolicy(std::unique_ptr<Policy> primary, std::unique_ptr<Policy> alternative,
                                           double share)
    : primary_(std::move(primary)), alternative_(std::move(alternative)), share_(share) {
  PERPETUA_CHECK(primary_ && alternative_);
  PERPETUA_CHECK(share >= 0.0 && share <= 1.0);
}

void EpisodeMixturePolicy::BeginEpisode(uint64_t episode_seed) {
  Rng rng(DeriveSeed(episode_seed, kMixtureStream, 0));
  alternative_acts_ = share_ > 0.0 && rng.Uniform() < share_;
  primary_->BeginEpisode(episode_seed);
  alternative_->BeginEpisode(episode_seed);
}

std::vector<float> EpisodeMixturePolicy::Act(const Observation& observation, const nlohmann::json& info) {
  return alternative_acts_ ? alternative_->Act(observation, info) : primary_->Act(observation, info);
}

}  // namespace perpetua
