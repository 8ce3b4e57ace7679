#include "robot/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "common/tcp_address.h"
#include "common/whole_number.h"

namespace perpetua::robot {
namespace {

using Clock = std::chrono::steady_clock;

double Now() { return SteadySeconds(); }

int RemainingMs(double deadline) {
  const double left = deadline - Now();
  if (left <= 0) return 0;
  return left > 3.6e6 ? 3600 * 1000 : int(left * 1000.0) + 1;
}

// True when `fd` becomes readable (or hung up) within timeout_s seconds.
bool PollReadable(int fd, double timeout_s) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  const double deadline = Now() + timeout_s;
  do {
    rc = ::poll(&p, 1, RemainingMs(deadline));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

std::string Reason(int err) { return std::strerror(err); }

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Room for a whole large frame (a 640x480 image is 0.9 MB) in the kernel's
// buffers, so one frame does not take many sender/receiver wake-ups.
void SetBuffers(int fd) {
  int bytes = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

sockaddr_un UnixAddress(const Address& address) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (address.path.size() >= sizeof sun.sun_path) {
    Fail(ExitCode::kUsage, "robot address '" + address.ToString() + "': socket path longer than " +
                               std::to_string(sizeof sun.sun_path - 1) + " bytes");
  }
  std::memcpy(sun.sun_path, address.path.c_str(), address.path.size() + 1);
  return sun;
}

struct AddrInfoList {
  addrinfo* list = nullptr;
  ~AddrInfoList() {
    if (list) ::freeaddrinfo(list);
  }
};

// Resolves a TCP address; throws TransportError if the host is unknown.
void Resolve(const Address& address, bool passive, AddrInfoList& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  const std::string port = std::to_string(address.port);
  const int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &out.list);
  if (rc != 0 || !out.list) {
    throw TransportError(TransportError::Reason::kFailed,
                         "robot " + address.ToString() + ": cannot resolve host: " + ::gai_strerror(rc));
  }
}

bool IsLoopbackSockaddr(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

}  // namespace

double SteadySeconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

std::string Address::ToString() const {
  if (kind == Kind::kUnix) return "unix://" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool Address::IsLoopback() const {
  if (kind == Kind::kUnix) return true;
  if (host == "localhost") return true;
  AddrInfoList list;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;  // names other than localhost are not trusted as loopback
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &list.list) != 0 || !list.list) return false;
  for (addrinfo* ai = list.list; ai; ai = ai->ai_next) {
    if (!IsLoopbackSockaddr(ai->ai_addr)) return false;
  }
  return true;
}

bool IsRobotAddress(const std::string& text) {
  return text.rfind("tcp://", 0) == 0 || text.rfind("unix://", 0) == 0;
}

bool SameToken(const std::string& given, const std::string& secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) diff |= uint8_t(given[i] ^ (i < secret.size() ? secret[i] : 0));
  return diff == 0;
}

Address ParseAddress(const std::string& text) {
  auto bad = [&](const std::string& why) -> Address {
    Fail(ExitCode::kUsage, "robot address '" + text + "': " + why +
                               " (expected tcp://HOST:PORT or unix:///PATH)");
  };
  Address address;
  if (text.rfind("unix://", 0) == 0) {
    address.kind = Address::Kind::kUnix;
    address.path = text.substr(7);
    if (address.path.empty() || address.path[0] != '/') return bad("the socket path must be absolute");
    return address;
  }
  std::string why;
  const std::optional<TcpHostPort> split = SplitTcpAddress(text, &why);
  if (!split) return bad(why);
  address.host = split->host;
  const std::optional<uint64_t> number = ParseWholeNumber(split->port, 65535);
  if (!number) return bad("port '" + split->port + "' is not a number in 0..65535");
  address.port = static_cast<int>(*number);
  return address;
}

Connection::Connection(int fd, std::string peer, std::string peer_host)
    : fd_(fd), peer_(std::move(peer)), peer_host_(std::move(peer_host)) {}

Connection::~Connection() { Close(); }

Connection::Connection(Connection&& other) noexcept
    : fd_(other.fd_), peer_(std::move(other.peer_)), peer_host_(std::move(other.peer_host_)) {
  other.fd_ = -1;
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    peer_ = std::move(other.peer_);
    peer_host_ = std::move(other.peer_host_);
    other.fd_ = -1;
  }
  return *this;
}

void Connection::Close() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
  }
}

Connection Connection::Connect(const Address& address, double timeout_s) {
  const double deadline = Now() + timeout_s;
  const std::string name = address.ToString();
  auto attempt = [&](int family, const sockaddr* sa, socklen_t length, std::string& error) -> int {
    const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = Reason(errno);
      return -1;
    }
    SetNonBlocking(fd);
    SetBuffers(fd);  // before connect: TCP negotiates its window scale in the handshake
    if (::connect(fd, sa, length) != 0) {
      if (errno != EINPROGRESS && errno != EAGAIN) {
        error = Reason(errno);
        ::close(fd);
        return -1;
      }
      pollfd p{fd, POLLOUT, 0};
      int rc;
      do {
        rc = ::poll(&p, 1, RemainingMs(deadline));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) {
        error = "timed out after " + std::to_string(timeout_s) + " s";
        ::close(fd);
        return -1;
      }
      int so_error = 0;
      socklen_t so_length = sizeof so_error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_length);
      if (so_error != 0) {
        error = Reason(so_error);
        ::close(fd);
        return -1;
      }
    }
    if (family != AF_UNIX) SetNoDelay(fd);
    return fd;
  };
  std::string error = "no address";
  if (address.kind == Address::Kind::kUnix) {
    const sockaddr_un sun = UnixAddress(address);
    const int fd = attempt(AF_UNIX, reinterpret_cast<const sockaddr*>(&sun), sizeof sun, error);
    if (fd >= 0) return Connection(fd, name);
  } else {
    AddrInfoList list;
    Resolve(address, false, list);
    for (addrinfo* ai = list.list; ai; ai = ai->ai_next) {
      const int fd = attempt(ai->ai_family, ai->ai_addr, ai->ai_addrlen, error);
      if (fd >= 0) return Connection(fd, name);
    }
  }
  throw TransportError(TransportError::Reason::kFailed, "robot " + name + ": cannot connect: " + error);
}

void Connection::Send(const std::vector<uint8_t>& bytes, double timeout_s) {
  if (fd_ < 0) throw TransportError(TransportError::Reason::kClosed, "robot " + peer_ + ": connection is closed");
  const double deadline = Now() + timeout_s;
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      const int rc = ::poll(&p, 1, RemainingMs(deadline));
      if (rc == 0) {
        throw TransportError(TransportError::Reason::kTimeout,
                             "robot " + peer_ + ": sending timed out after " + std::to_string(timeout_s) + " s");
      }
      continue;
    }
    throw TransportError(TransportError::Reason::kClosed,
                         "robot " + peer_ + ": connection lost while sending (" + Reason(errno) + ")");
  }
}

void Connection::SendFrame(const Frame& frame, const FrameLimits& limits, double timeout_s) {
  Send(EncodeFrame(frame, limits), timeout_s);
}

bool Connection::WaitReadable(double timeout_s) const {
  if (fd_ < 0) return true;
  return PollReadable(fd_, timeout_s);
}

size_t Connection::ReceiveAvailable(uint8_t* out, size_t size) {
  if (fd_ < 0) throw TransportError(TransportError::Reason::kClosed, "robot " + peer_ + ": connection is closed");
  for (;;) {
    const ssize_t n = ::recv(fd_, out, size, MSG_DONTWAIT);
    if (n > 0) return size_t(n);
    if (n == 0) throw TransportError(TransportError::Reason::kClosed, "robot " + peer_ + ": connection closed by the peer");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    throw TransportError(TransportError::Reason::kClosed, "robot " + peer_ + ": connection lost (" + Reason(errno) + ")");
  }
}

void Connection::EnableKeepAlive(int idle_s, int interval_s, int count) {
  sockaddr_storage ss{};
  socklen_t length = sizeof ss;
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &length) != 0 || ss.ss_family == AF_UNIX) return;
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

void Connection::ReadExactly(uint8_t* out, size_t size, double deadline) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::recv(fd_, out + got, size - got, 0);
    if (n > 0) {
      got += size_t(n);
      continue;
    }
    if (n == 0) {
      throw TransportError(TransportError::Reason::kClosed, "robot " + peer_ + ": connection closed by the peer" +
                                                                (got > 0 ? " in the middle of a frame" : ""));
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      throw TransportError(TransportError::Reason::kClosed,
                           "robot " + peer_ + ": connection lost (" + Reason(errno) + ")");
    }
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, RemainingMs(deadline));
    if (rc == 0) throw TransportError(TransportError::Reason::kTimeout, "robot " + peer_ + ": no answer in time");
  }
}

Frame Connection::ReceiveFrame(const FrameLimits& limits, double timeout_s) {
  if (fd_ < 0) throw TransportError(TransportError::Reason::kClosed, "robot " + peer_ + ": connection is closed");
  const double deadline = Now() + timeout_s;
  uint8_t header_bytes[kHeaderBytes];
  try {
    ReadExactly(header_bytes, kHeaderBytes, deadline);
  } catch (const TransportError& e) {
    if (e.reason() != TransportError::Reason::kTimeout) throw;
    throw TransportError(TransportError::Reason::kTimeout, "robot " + peer_ + ": no answer within " +
                                                               std::to_string(timeout_s) + " s");
  }
  const FrameHeader header = DecodeHeader(header_bytes, limits);
  std::vector<uint8_t> body(header.body_bytes());  // bounded by limits.max_frame_bytes
  ReadExactly(body.data(), body.size(), deadline);
  return DecodeBody(header, body.data(), body.size(), limits);
}

Listener::Listener(const Address& address) : bound_(address) {
  const std::string name = address.ToString();
  auto fail = [&](const std::string& what) {
    const std::string reason = Reason(errno);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw TransportError(TransportError::Reason::kFailed, "cannot listen on " + name + ": " + what + reason);
  };
  if (address.kind == Address::Kind::kUnix) {
    const sockaddr_un sun = UnixAddress(address);
    struct stat st {};
    if (::lstat(address.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        fail("the path exists and is not a socket: ");
      }
      // A live server answers; a dead one's file is stale and replaced.
      bool live = false;
      try {
        Connection::Connect(address, 0.5);
        live = true;
      } catch (const TransportError&) {
      }
      if (live) {
        errno = EADDRINUSE;
        fail("another server listens there: ");
      }
      ::unlink(address.path.c_str());
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail("");
    SetBuffers(fd_);  // accepted sockets inherit it
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) fail("");
  } else {
    AddrInfoList list;
    Resolve(address, true, list);
    addrinfo* ai = list.list;
    fd_ = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail("");
    SetBuffers(fd_);  // accepted sockets inherit it
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd_, ai->ai_addr, ai->ai_addrlen) != 0) fail("");
    sockaddr_storage ss{};
    socklen_t length = sizeof ss;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &length);
    bound_.port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                           : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  if (::listen(fd_, 8) != 0) fail("");
  SetNonBlocking(fd_);
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
  if (bound_.kind == Address::Kind::kUnix) ::unlink(bound_.path.c_str());
}

std::optional<Connection> Listener::Accept(double timeout_s) {
  if (!PollReadable(fd_, timeout_s)) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t length = sizeof ss;
  const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &length, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return std::nullopt;
  std::string host = "local";
  if (bound_.kind == Address::Kind::kTcp) {
    SetNoDelay(fd);
    char text[INET6_ADDRSTRLEN] = "?";
    const void* ip = ss.ss_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr)
                                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr);
    ::inet_ntop(ss.ss_family, ip, text, sizeof text);
    host = text;
  }
  return Connection(fd, "client " + host + " of " + bound_.ToString(), host);
}

std::optional<Frame> FrameReader::Poll(Connection& connection, const FrameLimits& limits) {
  for (;;) {
    uint8_t* out;
    size_t want;
    if (got_ < kHeaderBytes) {
      out = header_ + got_;
      want = kHeaderBytes - got_;
    } else {
      if (!header_decoded_) {
        header_decoded_ = DecodeHeader(header_, limits);  // checked before the body is allocated
        body_.assign(header_decoded_->body_bytes(), 0);
      }
      const size_t body_got = got_ - kHeaderBytes;
      if (body_got == body_.size()) {
        Frame frame = DecodeBody(*header_decoded_, body_.data(), body_.size(), limits);
        header_decoded_.reset();
        body_ = {};
        got_ = 0;
        return frame;
      }
      out = body_.data() + body_got;
      want = body_.size() - body_got;
    }
    size_t n;
    try {
      n = connection.ReceiveAvailable(out, want);
    } catch (const TransportError& e) {
      if (got_ == 0) throw;
      throw TransportError(e.reason(), std::string(e.what()) + " in the middle of a frame");
    }
    if (n == 0) return std::nullopt;
    if (got_ == 0) started_s_ = SteadySeconds();
    got_ += n;
  }
}

}  // namespace perpetua::robot
