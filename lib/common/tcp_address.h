// The one reading of "tcp://HOST:PORT", the address form of the robot
// protocol (robot/transport.h), the distributed rendezvous and the QT-Opt
// target workers (dist/dist_config.h). Each caller bounds the port itself
// (ParseWholeNumber: the robot's listener takes 0 for any free port, the
// rendezvous does not) and words its own error.
#pragma once

#include <optional>
#include <string>

namespace perpetua {

struct TcpHostPort {
  std::string host;  // a name or an IP literal; an IPv6 literal's [brackets] removed
  std::string port;  // the text after the last ':', not yet a number
};

// `text` split at its last ':' when it is tcp://HOST:PORT with a non-empty
// HOST that holds no '/'; nullopt otherwise, with `why` (when given) set to
// "unknown scheme", "missing host or port" or "the host contains '/'".
std::optional<TcpHostPort> SplitTcpAddress(const std::string& text, std::string* why = nullptr);

}  // namespace perpetua
