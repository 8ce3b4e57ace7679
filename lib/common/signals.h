// SIGINT/SIGTERM as requests, never as sudden death.
//
// After InstallInterruptHandlers(), each SIGINT or SIGTERM increments a
// counter instead of killing the process. Long-running loops poll it:
//   StopRequested()  (1st signal) finish the unit in progress (episode,
//                    training step), flush, exit with ExitCode::kInterrupted;
//   AbortRequested() (2nd signal) drop the unit in progress, flush what is
//                    finished, exit with ExitCode::kInterrupted now.
// SIGKILL cannot be caught: durability against it comes from atomic writes.
#pragma once

namespace perpetua {

// Installs the counting handlers (idempotent, async-signal-safe handlers).
void InstallInterruptHandlers();
// Number of SIGINT/SIGTERM received since installation (or the last reset).
int InterruptCount();
inline bool StopRequested() { return InterruptCount() >= 1; }
inline bool AbortRequested() { return InterruptCount() >= 2; }
// Clears the counter (tests only).
void ResetInterruptsForTesting();

}  // namespace perpetua
