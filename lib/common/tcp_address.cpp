#include "common/tcp_address.h"

#include <string_view>

namespace perpetua {

std::optional<TcpHostPort> SplitTcpAddress(const std::string& text, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<TcpHostPort> {
    if (why) *why = reason;
    return std::nullopt;
  };
  constexpr std::string_view kScheme = "tcp://";
  if (text.compare(0, kScheme.size(), kScheme) != 0) return fail("unknown scheme");
  const std::string rest = text.substr(kScheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return fail("missing host or port");
  TcpHostPort split{rest.substr(0, colon), rest.substr(colon + 1)};
  if (split.host.size() > 2 && split.host.front() == '[' && split.host.back() == ']') {
    split.host = split.host.substr(1, split.host.size() - 2);
  }
  if (split.host.find('/') != std::string::npos) return fail("the host contains '/'");
  return split;
}

}  // namespace perpetua
