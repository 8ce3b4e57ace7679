// The per-cell scripted policies behind MakeScriptedPolicy (scripted_policy.h).
// Internal to lib/policy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"
#include "env/env.h"
#include "policy/policy.h"

namespace perpetua::scripts {

// What every script shares: its id and Gaussian action noise drawn from an Rng
// reseeded at every episode (DeriveSeed(seed, stream, episode seed)), so a
// noisy script is reproducible episode by episode.
class Script : public Policy {
 public:
  // `stream` keeps the scripts' noise streams apart; `noise` is in action units.
  Script(const char* name, double noise, uint64_t seed, uint64_t stream)
      : noise_(noise), rng_(seed), name_(name), seed_(seed), stream_(stream) {}
  void BeginEpisode(uint64_t episode_seed) override {
    rng_ = Rng(DeriveSeed(seed_, stream_, episode_seed));
  }
  std::string id() const override { return name_; }

 protected:
  // `value` plus noise (when noise > 0), clipped to [-1, 1].
  double Noisy(double value);
  // The action moving `current` toward `target` (n components) where an action
  // of 1 moves `scale`, with noise, clipped to [-1, 1].
  std::vector<float> MoveToward(const double* target, const double* current, int n, double scale);

  double noise_;
  Rng rng_;

 private:
  const char* name_;
  uint64_t seed_;
  uint64_t stream_;
};

std::unique_ptr<Policy> MakeGraspScript(const EnvSpec& spec, double noise, uint64_t seed);
std::unique_ptr<Policy> MakePushScript(const EnvSpec& spec, double noise, uint64_t seed);
std::unique_ptr<Policy> MakeDoorScript(const EnvSpec& spec, double noise, uint64_t seed);
std::unique_ptr<Policy> MakePendulumScript(const EnvSpec& spec, double noise, uint64_t seed);

// Reads info[key] as a number; Error(kBadData) naming the key if absent.
double InfoNumber(const nlohmann::json& info, const char* key, const char* script);
// Reads info[key] as an object or array; Error(kBadData) if absent.
const nlohmann::json& InfoField(const nlohmann::json& info, const char* key, const char* script);

}  // namespace perpetua::scripts
