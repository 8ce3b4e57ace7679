#include "common/signals.h"

#include <atomic>
#include <csignal>

namespace perpetua {
namespace {
std::atomic<int> g_interrupts{0};
static_assert(std::atomic<int>::is_always_lock_free, "handler needs a lock-free counter");

extern "C" void CountInterrupt(int) { g_interrupts.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

void InstallInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = CountInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR and notice the request
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A closed stdout pipe (rl-collect | head) must surface as a write error, not kill us.
  std::signal(SIGPIPE, SIG_IGN);
}

int InterruptCount() { return g_interrupts.load(std::memory_order_relaxed); }

void ResetInterruptsForTesting() { g_interrupts.store(0); }

}  // namespace perpetua
