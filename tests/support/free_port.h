// A TCP port on loopback that nothing listens on now (for rendezvous tests).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace perpetua::testing {

// Binds port 0 on 127.0.0.1, reads the port the kernel chose, closes it.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("FreePort: socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    throw std::runtime_error("FreePort: bind failed");
  }
  const int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

// A port P such that P and P + 1 are both free now (for two ranks' servers at PORT + rank).
inline int FreePortPair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int port = FreePort();
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("FreePortPair: socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port + 1));
    const bool free = port < 65535 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  throw std::runtime_error("FreePortPair: no two free ports in a row");
}

}  // namespace perpetua::testing
