// The goal-conditioned view of an environment: the wrapped env's
// observations plus "goal_image", the goal of the episode as the camera
// would show it (robomimic's layout: the goal is an observation key, so every
// shard of goal-conditioned collection records it at every step).
//
// Each episode's goal is one of a fixed set of goal images ([N,H,W,C] uint8,
// the shape of the env's own "image"): the reset option "goal_index" picks
// one (0..N-1; the option is not passed on), otherwise the episode seed
// does (DeriveSeed(seed, stream, 0) mod N: the same seed, the same goal, on
// any number of workers). Reset's info adds "goal_index".
//
// Held-out goals (rl-goals heldout: the goal file's meta "goals", one object
// per goal, data/goal_file.h): the goal's "reset" options are passed to the
// wrapped cell, which then judges reaching it on its true state with its own
// threshold as the episode's "success" (sim/heldout_goals.h), and Reset's
// info adds "goal_region" (rl-eval reports success per region).
//
// Learners stack every [H,W,3] uint8 observation along the channels
// (nn/input_spec.h), so "goal_image" beside "image" makes any image learner
// goal-conditioned with no change. Chosen by EnvConfig::goals (--goals FILE,
// a goal file: data/goal_file.h); MakeEnv wraps (env_factory/make_env.h).
// Torch-free.
#pragma once

#include <memory>
#include <string>

#include "common/array.h"
#include "env/env.h"
#include "env/state_render.h"

namespace perpetua {

inline constexpr const char* kGoalImageKey = "goal_image";

class GoalEnv : public Env {
 public:
  // `goals` [N,H,W,C] uint8, N >= 1; `source` names them in errors (the
  // goal file). Error(kBadData) "<source>: ..." when the env has no uint8
  // "image" observation of the goals' shape; Error(kUsage) when it already
  // observes "goal_image". Use MakeGoalEnv: it keeps a StateRenderer.
  // `goal_info`: the goal file's meta "goals" (null when it has none).
  GoalEnv(std::unique_ptr<Env> inner, Array goals, std::string source, nlohmann::json goal_info = nullptr);
  const EnvSpec& spec() const override { return spec_; }
  int64_t goal_count() const { return goals_.shape[0]; }
  // Goal `index`'s image [H,W,C].
  Array Goal(int64_t index) const;

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override;
  StepResult DoStep(const std::vector<float>& action) override;
  void DoHold() override { inner_->Hold(); }

  std::unique_ptr<Env> inner_;
  EnvSpec spec_;
  Array goals_;
  std::string source_;
  nlohmann::json goal_info_;  // null, or one object per goal
  int64_t current_ = 0;  // the episode's goal
};

// `inner` with "goal_image" added; a StateRenderer too when `inner` is one
// (its RenderState adds the current goal image).
std::unique_ptr<Env> MakeGoalEnv(std::unique_ptr<Env> inner, Array goals, const std::string& source,
                                 nlohmann::json goal_info = nullptr);

}  // namespace perpetua
