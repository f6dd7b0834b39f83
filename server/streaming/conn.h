// Byte-stream connections under the streaming protocols: a TCP socket, TLS over it, or a byte stream
// tunnelled in WebSocket binary messages. All are driven by one thread with poll(2): Read never blocks
// (a non-blocking socket underneath), Write blocks until everything is written or the deadline passes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace cricket::streaming {

struct ReadResult {
  size_t n = 0;      // bytes placed in the buffer
  bool eof = false;  // the peer closed its side (n == 0)
};

class Conn {
 public:
  virtual ~Conn() = default;

  // The descriptor to poll for POLLIN before calling Read, unless HasBuffered().
  virtual int fd() const = 0;
  // True when Read can return data without the descriptor becoming readable (bytes already decrypted
  // or decoded). Callers check it before sleeping in poll.
  virtual bool HasBuffered() const { return !unread_.empty(); }
  // Reads what is available: {n > 0}, {eof}, or {0, !eof} when nothing is available yet.
  absl::StatusOr<ReadResult> Read(char* buf, size_t len);
  // Writes all of `data`, waiting for the socket to drain until `deadline` (MonotonicNow() ns).
  virtual absl::Status Write(std::string_view data, int64_t deadline) = 0;
  // Shuts the connection down in both directions (safe to call from another thread).
  virtual void Shutdown() = 0;
  // Ends the conversation politely before the descriptor is closed (TLS close_notify, WebSocket close
  // frame). Best effort.
  virtual void Finish(int64_t deadline) { (void)deadline; }

  // Bytes read past the end of something (e.g. the HTTP request head) that Read must return first.
  void Unread(std::string_view bytes) { unread_.insert(0, bytes); }

 protected:
  virtual absl::StatusOr<ReadResult> ReadSome(char* buf, size_t len) = 0;

 private:
  std::string unread_;
};

// A connected TCP socket; switches it to non-blocking mode.
std::unique_ptr<Conn> NewSocketConn(UniqueFd fd);

// Server-side TLS over a connected socket, handshaken without blocking, step by step, so that one thread
// can drive many handshakes at once.
class TlsHandshake {
 public:
  // Switches the socket to non-blocking mode.
  static absl::StatusOr<std::unique_ptr<TlsHandshake>> Start(UniqueFd fd, SSL_CTX* ctx);
  virtual ~TlsHandshake() = default;
  virtual int fd() const = 0;
  // Advances the handshake: 0 once it is complete, POLLIN or POLLOUT while it waits for the socket,
  // Unauthenticated when it failed.
  virtual absl::StatusOr<short> Continue() = 0;
  // The connection, after Continue returned 0.
  virtual std::unique_ptr<Conn> TakeConn() = 0;
};

// Waits until `fd` is ready for `events` or `deadline` passes (DeadlineExceeded).
absl::Status WaitFd(int fd, short events, int64_t deadline);

// The poll(2) events for a client connection: POLLIN while the session may read from it, else only the
// client's hang-up (POLLRDHUP), so that a client that leaves is noticed even while it is not read.
short ClientEvents(bool reading);
// True when poll reported that the client closed its side (or the connection failed).
bool ClientHungUp(short revents);

// Milliseconds from now until `deadline` for poll(2): -1 for no deadline (deadline <= 0 means none).
int PollTimeoutMs(int64_t deadline);

}  // namespace cricket::streaming
