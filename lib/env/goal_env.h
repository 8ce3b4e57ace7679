// The goal-conditioned view of an environment: the wrapped env's
// observations plus "goal_image", the goal of the episode as the camera
// would show it (robomimic's layout: the goal is an observation key, so every
// shard of goal-conditioned collection records it at every step).
//
// Each episode's goal is one image of the supply's current goal set
// ([N,H,W,C] uint8, the shape of the env's own "image"): the reset option
// "goal_index" picks one (0..N-1; the option is not passed on), otherwise
// the episode seed does (DeriveSeed(seed, stream, 0) mod N: the same seed
// and goal set, the same goal, on any number of workers). The set is asked
// for at every reset, so goals that change while a collector runs (a goal
// file replaced, the VAE of vae:CKPT retrained) reach the next episode, never
// the running one. Reset's info adds "goal_index", and "goal_vae" (the id of
// the checkpoint whose VAE drew the set) when known.
//
// Held-out goals (rl-goals heldout: the goal file's meta "goals", one object
// per goal, data/goal_file.h): the goal's "reset" options are passed to the
// wrapped cell, which then judges reaching it on its true state with its own
// threshold as the episode's "success" (sim/heldout_goals.h), and Reset's
// info adds "goal_region" (rl-eval reports success per region).
//
// Learners stack every [H,W,3] uint8 observation along the channels
// (nn/input_spec.h), so "goal_image" beside "image" makes any image learner
// goal-conditioned with no change. Chosen by EnvConfig::goals: a goal file
// (data/goal_file.h: GoalFileSupply), vae:CKPT (rollout/goal_factory.h) or
// heldout[:N] (env_factory/heldout_goal_set.h);
// MakeEnv wraps (env_factory/make_env.h). Torch-free.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/array.h"
#include "env/env.h"
#include "env/state_render.h"

namespace perpetua {

inline constexpr const char* kGoalImageKey = "goal_image";

// EnvConfig::goals of the form vae:CKPT.
inline bool IsVaeGoals(const std::string& goals) { return goals.rfind("vae:", 0) == 0; }

// One version of an env's goals.
struct GoalImages {
  Array images;          // [N,H,W,C] uint8, N >= 1
  nlohmann::json info;   // null, or one object per goal (held-out goals: "reset", "region")
  std::string vae_id;    // the checkpoint whose VAE drew them; empty when none did
};

// Where a GoalEnv's goals come from. Current() is called at every reset, from
// any worker thread: a supply may hand out a new version between calls, and
// never changes one it handed out.
class GoalSupply {
 public:
  virtual ~GoalSupply() = default;
  virtual std::shared_ptr<const GoalImages> Current() = 0;
  // Names the goals in messages: the goal file, "vae:CKPT".
  virtual const std::string& source() const = 0;
};

// A supply whose goals never change.
std::shared_ptr<GoalSupply> FixedGoalSupply(GoalImages goals, std::string source);

class GoalEnv : public Env {
 public:
  // Error(kBadData) "<source>: ..." when the env has no uint8 "image"
  // observation of the goals' shape or the info is not one object per goal
  // (checked for every new version of the goals); Error(kUsage) when it
  // already observes "goal_image". Use MakeGoalEnv: it keeps a StateRenderer.
  GoalEnv(std::unique_ptr<Env> inner, std::shared_ptr<GoalSupply> goals);
  const EnvSpec& spec() const override { return spec_; }
  // The goals of the current episode (of the first version before any reset).
  int64_t goal_count() const { return goals_->images.shape[0]; }
  // Goal `index`'s image [H,W,C].
  Array Goal(int64_t index) const;

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override;
  StepResult DoStep(const std::vector<float>& action) override;
  void DoHold() override { inner_->Hold(); }

  // Error(kBadData) unless `goals` fit the cell's image (see the constructor).
  void Check(const GoalImages& goals) const;

  std::unique_ptr<Env> inner_;
  EnvSpec spec_;
  std::shared_ptr<GoalSupply> supply_;
  std::shared_ptr<const GoalImages> goals_;  // the episode's version
  std::vector<int64_t> image_shape_;         // the cell's "image"
  int64_t current_ = 0;  // the episode's goal
};

// `inner` with "goal_image" added; a StateRenderer too when `inner` is one
// (its RenderState adds the current goal image).
std::unique_ptr<Env> MakeGoalEnv(std::unique_ptr<Env> inner, std::shared_ptr<GoalSupply> goals);

}  // namespace perpetua
