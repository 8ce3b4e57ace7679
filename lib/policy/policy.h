// A policy maps what a robot sees to an action. Random, scripted and learned
// (checkpoint) policies share this interface, so rl-collect and rl-eval run
// any of them. Policies are driven by one thread; make one per worker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array.h"

namespace perpetua {

class Policy {
 public:
  virtual ~Policy() = default;
  // Called at the start of every episode with that episode's seed.
  virtual void BeginEpisode(uint64_t episode_seed) {}
  // The action for `observation`. `info` is the cell's ground truth: only
  // scripted (privileged) policies may read it; learned policies must not.
  virtual std::vector<float> Act(const Observation& observation, const nlohmann::json& info) = 0;
  // Identifies the policy in datasets and reports: "random", "scripted:grasp",
  // "checkpoint:<id>" (a checkpoint's id changes with every new checkpoint).
  virtual std::string id() const = 0;
};

}  // namespace perpetua
