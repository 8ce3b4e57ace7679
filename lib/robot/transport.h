// Sockets for the robot protocol: TCP and Unix stream sockets carrying
// frames (frame.h), every wait bounded by a timeout (poll), no SIGPIPE.
//
// Addresses: "tcp://HOST:PORT" (HOST a name or IPv4 literal; PORT 0 when
// listening picks a free one) and "unix:///absolute/path".
//
// Failures throw TransportError (code kEnvFailure) naming the address and
// the reason: refused, timed out, closed by the peer; frames that break the
// protocol throw ProtocolError (frame.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "robot/frame.h"

namespace perpetua::robot {

struct Address {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;  // tcp: host name or IPv4 literal
  int port = 0;      // tcp: 0..65535
  std::string path;  // unix: socket file

  // "tcp://127.0.0.1:5555" / "unix:///tmp/robot.sock"
  std::string ToString() const;
  // True for unix sockets and for TCP hosts that resolve only to loopback
  // (127.0.0.0/8, "localhost").
  bool IsLoopback() const;
};

// True if `text` starts with tcp:// or unix:// (a robot address, not a cell name).
bool IsRobotAddress(const std::string& text);
// Parses an address. Throws Error(kUsage) "robot address 'x': ..." when malformed.
Address ParseAddress(const std::string& text);

// Whether a shared secret given by a client equals the server's: compared
// without an early exit, so the time taken does not leak the secret. (The
// robot server's token and rl-label serve's.)
bool SameToken(const std::string& given, const std::string& secret);

// Why a transfer failed.
class TransportError : public Error {
 public:
  enum class Reason { kTimeout, kClosed, kFailed };
  TransportError(Reason reason, const std::string& message)
      : Error(ExitCode::kEnvFailure, message), reason_(reason) {}
  Reason reason() const { return reason_; }

 private:
  Reason reason_;
};

// One connected stream socket. Movable, not copyable; closes on destruction.
// Send and Receive may run in different threads; two concurrent senders
// need a lock around Send.
class Connection {
 public:
  Connection() = default;
  explicit Connection(int fd, std::string peer, std::string peer_host = "");
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects within `timeout_s` seconds. TransportError on failure.
  static Connection Connect(const Address& address, double timeout_s);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }
  // An accepted TCP connection: the client's IP address ("127.0.0.1");
  // a unix socket: "local". "" for connections made by Connect.
  const std::string& peer_host() const { return peer_host_; }

  // Writes all of `bytes` within `timeout_s`. TransportError (kTimeout /
  // kClosed) otherwise; the connection is then unusable (close it).
  void Send(const std::vector<uint8_t>& bytes, double timeout_s);
  // EncodeFrame + Send.
  void SendFrame(const Frame& frame, const FrameLimits& limits, double timeout_s);
  // Reads one whole frame within `timeout_s`. TransportError on timeout or
  // a closed connection; ProtocolError on a malformed/oversized frame (never
  // allocates more than limits.max_frame_bytes).
  Frame ReceiveFrame(const FrameLimits& limits, double timeout_s);
  // Waits up to `timeout_s` for bytes (or EOF) to read. True if readable.
  bool WaitReadable(double timeout_s) const;
  // Reads up to `size` bytes that are here now, never waiting: 0 if none.
  // TransportError(kClosed) when the peer closed or reset the connection.
  size_t ReceiveAvailable(uint8_t* out, size_t size);
  // TCP keepalive, so that a peer that vanished (power, cable, partition)
  // is noticed on an idle connection: the first probe after `idle_s`
  // seconds of silence, then one every `interval_s`; after `count`
  // unanswered probes reads fail with kClosed. No effect on unix sockets.
  void EnableKeepAlive(int idle_s, int interval_s, int count);
  // Shuts both directions down and closes the descriptor.
  void Close();

 private:
  void ReadExactly(uint8_t* out, size_t size, double deadline);
  int fd_ = -1;
  std::string peer_;
  std::string peer_host_;
};

// Assembles frames from a connection without ever waiting, so that a server
// can keep its timers while a client sends slowly or stalls mid-frame. Each
// header is checked against the limits given with the call that completes
// it before its body is allocated (so a server can hold unauthenticated
// clients to small frames).
class FrameReader {
 public:
  // Reads what has arrived (at most up to the end of the current frame) and
  // returns the frame once it is whole; nullopt while it is not. Throws
  // TransportError(kClosed) if the peer closed (mid-frame or not) and
  // ProtocolError on a malformed or oversized frame.
  std::optional<Frame> Poll(Connection& connection, const FrameLimits& limits);
  // True while a frame is partly read.
  bool in_frame() const { return got_ > 0; }
  // Steady-clock seconds at which the current frame's first byte came.
  double frame_started_s() const { return started_s_; }

 private:
  uint8_t header_[kHeaderBytes] = {};
  std::optional<FrameHeader> header_decoded_;
  std::vector<uint8_t> body_;
  size_t got_ = 0;  // bytes of the current frame read (header included)
  double started_s_ = 0.0;
};

// Steady-clock seconds (the clock of every timeout here).
double SteadySeconds();

// A listening socket.
class Listener {
 public:
  // Binds and listens on `address`. A unix socket file left by a dead server
  // is replaced; one a live server owns is an error. TransportError naming
  // the address on failure (in use, permission).
  explicit Listener(const Address& address);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The bound address (a TCP port 0 resolved to the real port).
  const Address& address() const { return bound_; }
  int fd() const { return fd_; }
  // Accepts one pending connection, waiting up to `timeout_s`; nullopt if none.
  std::optional<Connection> Accept(double timeout_s);

 private:
  int fd_ = -1;
  Address bound_;
};

}  // namespace perpetua::robot
