// Exploration as QT-Opt collected with it, as Policy decorators that wrap any
// policy (a checkpoint, the scripted policy, ...):
//   EpsilonGreedyPolicy  with probability epsilon per step, act as the
//                        exploration policy (random or scripted) instead;
//   GaussianNoisePolicy  add N(0, (stddev * half-range)^2) to every action
//                        component, then clip to the bounds.
// Both draw from an Rng reseeded in BeginEpisode from the episode seed, so an
// episode's actions depend only on its seed (never on the worker that ran it
// or on the episodes before it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"
#include "env/env.h"
#include "policy/policy.h"

namespace perpetua {

class EpsilonGreedyPolicy : public Policy {
 public:
  // Owns both policies. epsilon in [0, 1] (checked).
  EpsilonGreedyPolicy(std::unique_ptr<Policy> greedy, std::unique_ptr<Policy> explore,
                      double epsilon);
  void BeginEpisode(uint64_t episode_seed) override;
  // The exploration policy sees every step (a scripted policy may keep state);
  // the greedy one is asked only on the steps where it acts.
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override;
  // The greedy policy's id: the checkpoint whose behaviour is being improved.
  std::string id() const override { return greedy_->id(); }
  // Steps of the current episode on which the exploration policy acted.
  int explored_steps() const { return explored_steps_; }
  Policy& greedy() { return *greedy_; }

 private:
  std::unique_ptr<Policy> greedy_;
  std::unique_ptr<Policy> explore_;
  double epsilon_;
  Rng rng_;
  int explored_steps_ = 0;
};

class GaussianNoisePolicy : public Policy {
 public:
  // `stddev` is a fraction of each component's half-range (high - low) / 2; >= 0 (checked).
  GaussianNoisePolicy(std::unique_ptr<Policy> base, ActionSpec spec, double stddev);
  void BeginEpisode(uint64_t episode_seed) override;
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override;
  std::string id() const override { return base_->id(); }

 private:
  std::unique_ptr<Policy> base_;
  ActionSpec spec_;
  double stddev_;
  Rng rng_;
};

}  // namespace perpetua
