#include "common/clock.h"

#include <chrono>

namespace perpetua {

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace perpetua
