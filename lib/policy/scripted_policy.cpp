#include "policy/scripted_policy.h"

#include <algorithm>

#include "common/error.h"
#include "policy/scripts.h"

namespace perpetua {
namespace scripts {

double InfoNumber(const nlohmann::json& info, const char* key, const char* script) {
  if (!info.contains(key) || !info.at(key).is_number()) {
    Fail(ExitCode::kBadData, std::string(script) + ": info lacks the number '" + key + "'");
  }
  return info.at(key).get<double>();
}

const nlohmann::json& InfoField(const nlohmann::json& info, const char* key, const char* script) {
  if (!info.is_object() || !info.contains(key)) {
    Fail(ExitCode::kBadData, std::string(script) + ": info lacks '" + key + "'");
  }
  return info.at(key);
}

double Script::Noisy(double value) {
  if (noise_ > 0) value += noise_ * rng_.Normal();
  return std::clamp(value, -1.0, 1.0);
}

std::vector<float> Script::MoveToward(const double* target, const double* current, int n,
                                      double scale) {
  std::vector<float> action(n);
  for (int i = 0; i < n; ++i) action[i] = static_cast<float>(Noisy((target[i] - current[i]) / scale));
  return action;
}

}  // namespace scripts

std::unique_ptr<Policy> MakeScriptedPolicy(const EnvSpec& spec, double noise, uint64_t seed) {
  if (noise < 0) Fail(ExitCode::kUsage, "scripted policy noise must be >= 0");
  if (spec.name == "grasp") return scripts::MakeGraspScript(spec, noise, seed);
  if (spec.name == "push") return scripts::MakePushScript(spec, noise, seed);
  if (spec.name == "door") return scripts::MakeDoorScript(spec, noise, seed);
  if (spec.name == "pendulum") return scripts::MakePendulumScript(spec, noise, seed);
  Fail(ExitCode::kUsage, "no scripted policy for env '" + spec.name + "'");
}

}  // namespace perpetua
