// Exploration as QT-Opt collected with it, as Policy decorators that wrap any
// policy (a checkpoint, the scripted policy, ...):
//   EpsilonGreedyPolicy  with probability epsilon per step, act as the
//                        exploration policy (random or scripted) instead;
//   GaussianNoisePolicy  add N(0, (stddev * half-range)^2) to every action
//                        component, then clip to the bounds;
//   EpisodeMixturePolicy with probability `share` per episode, the other
//                        policy (a heuristic: the scripted one) acts for the
//                        whole episode, so that its successes keep reaching
//                        the data while the learnt policy is still weak.
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

class EpisodeMixturePolicy : public Policy {
 public:
  // Owns both policies. share in [0, 1] (checked).
  EpisodeMixturePolicy(std::unique_ptr<Policy> primary, std::unique_ptr<Policy> alternative, double share);
  // Draws which policy acts in this episode (from the episode seed alone),
  // then begins the episode of both (a reloading checkpoint policy reloads
  // there whichever acts).
  void BeginEpisode(uint64_t episode_seed) override;
  std::vector<float> Act(const Observation& observation, const nlohmann::json& info) override;
  // The id of the policy acting in the current episode (recorded with the
  // episode, so the data says which episodes the heuristic acted in).
  std::string id() const override { return alternative_acts_ ? alternative_->id() : primary_->id(); }
  bool alternative_acts() const { return alternative_acts_; }

 private:
  std::unique_ptr<Policy> primary_;
  std::unique_ptr<Policy> alternative_;
  double share_;
  bool alternative_acts_ = false;
};

}  // namespace perpetua
