// Reading one field of a checkpoint's JSON metadata, with the project's
// error for a missing or mistyped field. Torch-free, header-only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace perpetua {

// json[key] as T. Throws Error(kBadData) "<source>: checkpoint lacks '<key>'"
// or "<source>: checkpoint field '<key>' has the wrong type".
template <class T>
T CheckpointField(const nlohmann::json& json, const char* key, const std::string& source) {
  if (!json.is_object() || !json.contains(key)) Fail(ExitCode::kBadData, source + ": checkpoint lacks '" + key + "'");
  try {
    return json.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    Fail(ExitCode::kBadData, source + ": checkpoint field '" + key + "' has the wrong type");
  }
}

}  // namespace perpetua
