// The one error-checking helper of the test suites: every suite asserts
// errors (code and message) through ExpectError.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "common/error.h"

namespace perpetua::testing {

// Runs `fn`, CHECKs that it throws Error with `code` and a message holding
// `fragment` ("" matches any); returns the message ("" if it did not throw).
// Compare the returned message for an exact match.
inline std::string ExpectError(const std::function<void()>& fn, ExitCode code, const std::string& fragment = "") {
  try {
    fn();
  } catch (const Error& error) {
    CHECK_MESSAGE(error.code() == code, "code " << static_cast<int>(error.code()) << " for: " << error.what());
    CHECK_MESSAGE(std::string(error.what()).find(fragment) != std::string::npos,
                  "message: " << std::string(error.what()) << " lacks: " << fragment);
    return error.what();
  }
  FAIL_CHECK("no Error thrown; expected one containing: " << fragment);
  return "";
}

}  // namespace perpetua::testing
