// The time-aware view of an environment (Pardo et al. 2018, "Time Limits in
// Reinforcement Learning"): the wrapped env's observations plus "time_left"
// [1] float32, the share of the episode's steps still to come: 1 after
// Reset, (N - k) / N after k steps of an N-step limit, 0 once the limit is
// reached. A task with a time limit is Markov only when the policy can see
// the clock: without it, "running out of time" looks like any other step,
// and a learner cannot tell that moving on at the last step is a failure.
// With it, a step that reaches the limit is a true end of the task (serve
// it as terminal: rl-train --dataset.timeout-terminal).
//
// Learners take every 1-D float32 observation as proprioception
// (nn/input_spec.h), so "time_left" reaches them with no change. Works for
// any cell and for robots (the client counts the steps). Chosen by
// EnvConfig::observe_time (--cell.observe-time); MakeEnv wraps.
#pragma once

#include <memory>

#include "env/env.h"
#include "env/state_render.h"

namespace perpetua {

inline constexpr const char* kTimeLeftKey = "time_left";

class TimeLeftEnv : public Env {
 public:
  // Error(kUsage) if `inner` already has an observation named "time_left".
  // Use MakeTimeLeftEnv: it keeps the inner env's StateRenderer.
  explicit TimeLeftEnv(std::unique_ptr<Env> inner);
  const EnvSpec& spec() const override { return spec_; }

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override;
  StepResult DoStep(const std::vector<float>& action) override;
  void DoHold() override { inner_->Hold(); }
  // The "time_left" entry for the inner env's current step count.
  Array TimeLeft() const;

  std::unique_ptr<Env> inner_;
  EnvSpec spec_;
};

// `inner` with "time_left" added; a StateRenderer too when `inner` is one
// (its RenderState adds the current "time_left").
std::unique_ptr<Env> MakeTimeLeftEnv(std::unique_ptr<Env> inner);

}  // namespace perpetua
