#include "common/tcp_address.h"

#include <doctest/doctest.h>

namespace perpetua {
namespace {

TEST_CASE("tcp://HOST:PORT splits at its last colon, an IPv6 literal losing its brackets") {
  std::optional<TcpHostPort> split = SplitTcpAddress("tcp://robot-7.lab:5555");
  REQUIRE(split);
  CHECK(split->host == "robot-7.lab");
  CHECK(split->port == "5555");
  split = SplitTcpAddress("tcp://[::1]:0");
  REQUIRE(split);
  CHECK(split->host == "::1");
  CHECK(split->port == "0");
  split = SplitTcpAddress("tcp://127.0.0.1:");  // the port's text is the caller's to judge
  REQUIRE(split);
  CHECK(split->port.empty());
}

TEST_CASE("anything else is refused with its reason") {
  const std::pair<const char*, const char*> cases[] = {
      {"unix:///tmp/robot.sock", "unknown scheme"},
      {"TCP://robot:1", "unknown scheme"},
      {"robot:1", "unknown scheme"},
      {"", "unknown scheme"},
      {"tcp://robot", "missing host or port"},
      {"tcp://:5555", "missing host or port"},
      {"tcp://", "missing host or port"},
      {"tcp://robot/arm:5555", "the host contains '/'"},
  };
  for (const auto& [text, reason] : cases) {
    CAPTURE(text);
    std::string why;
    CHECK_FALSE(SplitTcpAddress(text, &why));
    CHECK(why == reason);
    CHECK_FALSE(SplitTcpAddress(text));  // without a reason asked for
  }
}

}  // namespace
}  // namespace perpetua
