// The one JSON form of an EnvSpec, shared by datasets (data.attrs
// "perpetua_env_spec", written by rl-collect), checkpoints (metadata
// "env_spec") and the robot protocol's welcome message (docs/protocol.md):
//
//   {"name": "grasp",
//    "observations": [{"key": "image", "dtype": "uint8", "shape": [64, 64, 3]}, ...],
//    "action": {"low": [...], "high": [...], "names": [...]},
//    "max_episode_steps": 20, "control_hz": 0.0, "env_args": {...}}
//
// Torch-free, HDF5-free.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "env/env.h"

namespace perpetua {

// The JSON form above (env_args is {} when the spec has none).
nlohmann::json EnvSpecToJson(const EnvSpec& spec);

// Parses the JSON form strictly into `spec`. Returns "" on success, else one
// line saying what is wrong ("no 'name' field", "observation 'x' has dtype
// 'int16' (expected uint8 or float32)", ...): callers prefix their source and
// pick the error code (kBadData for files, kEnvFailure for a robot). Checks:
// a non-empty observation list of unique non-empty keys with dtype uint8 or
// float32 and 0..8 positive dimensions (each at most 2^24); a non-empty action
// box of finite intervals low <= high with matching names (optional);
// control_hz in 0..10000; max_episode_steps an integer in 1..1e8; env_args an
// object (optional).
std::string ParseEnvSpecJson(const nlohmann::json& json, EnvSpec* spec);

// ParseEnvSpecJson, throwing Error(kBadData) "<source>: malformed environment spec: <problem>".
EnvSpec EnvSpecFromJson(const nlohmann::json& json, const std::string& source);

}  // namespace perpetua
