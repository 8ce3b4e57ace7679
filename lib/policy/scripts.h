// The per-cell scripted policies behind MakeScriptedPolicy (scripted_policy.h).
// Internal to lib/policy.
#pragma once

#include <cstdint>
#include <memory>

#include "env/env.h"
#include "policy/policy.h"

namespace perpetua::scripts {

std::unique_ptr<Policy> MakeGraspScript(const EnvSpec& spec, double noise, uint64_t seed);
std::unique_ptr<Policy> MakePushScript(const EnvSpec& spec, double noise, uint64_t seed);
std::unique_ptr<Policy> MakeDoorScript(const EnvSpec& spec, double noise, uint64_t seed);
std::unique_ptr<Policy> MakePendulumScript(const EnvSpec& spec, double noise, uint64_t seed);

// Reads info[key] as a number; Error(kBadData) naming the key if absent.
double InfoNumber(const nlohmann::json& info, const char* key, const char* script);
// Reads info[key] as an object or array; Error(kBadData) if absent.
const nlohmann::json& InfoField(const nlohmann::json& info, const char* key, const char* script);

}  // namespace perpetua::scripts
