#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace perpetua {

const char* ExitCodeName(ExitCode code) {
  switch (code) {
    case ExitCode::kOk: return "ok";
    case ExitCode::kInternal: return "internal";
    case ExitCode::kUsage: return "usage";
    case ExitCode::kBadData: return "bad-data";
    case ExitCode::kEnvFailure: return "env-failure";
    case ExitCode::kGateFailed: return "gate-failed";
    case ExitCode::kIoError: return "io-error";
    case ExitCode::kDiverged: return "diverged";
    case ExitCode::kLocked: return "locked";
    case ExitCode::kPeerLost: return "peer-lost";
    case ExitCode::kInterrupted: return "interrupted";
  }
  return "unknown";
}

void Fail(ExitCode code, const std::string& message) { throw Error(code, message); }

void CheckFailed(const char* expr, const char* file, int line, const std::string& detail) {
  std::fprintf(stderr, "perpetua: internal invariant violated: %s at %s:%d%s%s\n", expr, file,
               line, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace perpetua
