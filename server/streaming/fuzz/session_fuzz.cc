// libFuzzer target: everything after the TCP connection that a client controls, run for real over a
// socketpair with a fake runtime: the request head (parse, route, token kind), the protocol negotiation,
// and then the session with the client's bytes: exec and attach over SPDY (v1-v4) and WebSocket (v4, v5,
// base64) including the phase before the streams are complete, and port-forward over SPDY, SPDY tunnelled
// in WebSocket and plain WebSocket (dials that succeed, fail and time out). Buffers come from a small
// pool, so that backpressure and the budget limits are exercised too.
//
// Input: byte 0 picks the request (kind and stdio flags), byte 1 the protocol of the canned request
// head; the rest is what the client sends after the head. When the rest starts with "GET " or "POST ",
// it carries its own head (up to the first blank line) instead.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "lib/common/logging.h"
#include "server/streaming/budget.h"
#include "server/streaming/upgrade.h"

namespace cs = cricket::streaming;

namespace {

// The server side of a socketpair whose other end already holds everything the client sends, then EOF.
// Writes go nowhere (the fuzzer does not read them), so they never block.
class FuzzConn : public cs::Conn {
 public:
  explicit FuzzConn(cricket::UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const override { return fd_.get(); }
  absl::Status Write(std::string_view, int64_t) override { return absl::OkStatus(); }
  void Shutdown() override { shutdown(fd_.get(), SHUT_RDWR); }

 protected:
  absl::StatusOr<cs::ReadResult> ReadSome(char* buf, size_t len) override {
    const ssize_t n = recv(fd_.get(), buf, len, MSG_DONTWAIT);
    if (n > 0) return cs::ReadResult{static_cast<size_t>(n), false};
    if (n == 0) return cs::ReadResult{0, true};
    if (errno == EAGAIN || errno == EINTR) return cs::ReadResult{};
    return cs::ReadResult{0, true};
  }

 private:
  cricket::UniqueFd fd_;
};

// A loopback listener whose accept queue is full: connects to it stay in progress (their SYNs are
// dropped), so that the dial timeout is exercised.
int StalledPort() {
  static const int port = [] {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 0) != 0) return 0;
    getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    for (int i = 0; i < 2; ++i) {
      int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      (void)connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a));  // never accepted, never closed
    }
    return static_cast<int>(ntohs(a.sin_port));
  }();
  return port;
}

// Exec and attach read stdin until it ends or the session is cancelled, and answer on stdout and stderr.
// Dials to ports divisible by 3 fail at once; ports 3n+1 get a socketpair whose far end says something
// and half-closes; ports 3n+2 get a socket whose connect never completes.
class FuzzRuntime : public cs::StreamingRuntime {
 public:
  absl::StatusOr<int> Exec(const cs::ExecParams&, cs::StreamIo& io) override { return Run(io); }
  absl::Status Attach(const cs::AttachParams&, cs::StreamIo& io) override { return Run(io).status(); }
  absl::StatusOr<cricket::UniqueFd> DialPort(const std::string&, int32_t port) override {
    if (port % 3 == 0) return absl::UnavailableError("connection refused");
    if (port % 3 == 2) {
      cricket::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(StalledPort()));
      (void)connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
      return fd;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
      return absl::InternalError("socketpair");
    }
    (void)!write(sv[1], "pod says hi", 11);
    shutdown(sv[1], SHUT_WR);
    absl::MutexLock lock(&mu_);
    far_ends_.emplace_back(sv[1]);
    return cricket::UniqueFd(sv[0]);
  }

 private:
  absl::StatusOr<int> Run(cs::StreamIo& io) {
    if (io.stdout_fd() >= 0) (void)!write(io.stdout_fd(), "out", 3);
    if (io.stderr_fd() >= 0) (void)!write(io.stderr_fd(), "err", 3);
    char buf[4096];
    for (int rounds = 0; rounds < 50; ++rounds) {
      pollfd fds[2] = {{io.stdin_fd(), POLLIN, 0}, {io.cancel_fd(), POLLIN, 0}};
      if (poll(fds, 2, 20) <= 0) continue;
      if (fds[1].revents != 0) return 137;
      if (io.stdin_fd() < 0 || read(io.stdin_fd(), buf, sizeof(buf)) <= 0) return 0;
    }
    return 3;
  }

  absl::Mutex mu_;
  std::vector<cricket::UniqueFd> far_ends_;
};

const char* const kHeads[] = {
    // SPDY remote command, newest first, then each older one alone.
    "POST /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\n\r\n",
    "POST /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
    "v3.channel.k8s.io\r\n\r\n",
    "POST /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
    "v2.channel.k8s.io\r\n\r\n",
    "POST /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
    "channel.k8s.io\r\n\r\n",
    // SPDY port-forward.
    "POST /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
    "portforward.k8s.io\r\n\r\n",
    // WebSocket: remote command subprotocols, port-forward (plain, with ports; tunnelled SPDY).
    "GET /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
    "GET /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n",
    "GET /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v4.base64.channel.k8s.io\r\n\r\n",
    "GET /x/t?port=80&port=81,82&port=84 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Protocol: portforward.k8s.io\r\n\r\n",
    "GET /x/t HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: "
    "SPDY/3.1+portforward.k8s.io\r\n\r\n",
};

// Bits 0-1: exec, attach, port-forward (2 and 3); bits 2-5: tty, stdin, stdout, stderr; bit 6: the
// port-forward request names ports 80 and 81.
cs::CachedRequest RequestFor(uint8_t b) {
  const bool tty = b & 0x04, in = b & 0x08, out = b & 0x10, err = (b & 0x20) && !tty;
  switch (b & 0x03) {
    case 0:
      return cs::ExecParams{"c", {"sh"}, tty, in, out || !(in || err), err};
    case 1:
      return cs::AttachParams{"c", tty, in, out || !(in || err), err};
    default:
      return cs::PortForwardParams{"pod", (b & 0x40) ? std::vector<int32_t>{80, 81} : std::vector<int32_t>{}};
  }
}

std::string_view KindOf(const cs::CachedRequest& r) {
  if (std::holds_alternative<cs::ExecParams>(r)) return "exec";
  if (std::holds_alternative<cs::AttachParams>(r)) return "attach";
  return "portforward";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cricket::log::SetLevel(cricket::log::Level::kFatal);
  signal(SIGPIPE, SIG_IGN);  // as StreamingServer::Start does for the daemon
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const cs::CachedRequest cached = RequestFor(static_cast<uint8_t>(input[0]));
  std::string head = kHeads[static_cast<uint8_t>(input[1]) % std::size(kHeads)];
  std::string_view body = input.substr(2);
  if (body.starts_with("GET ") || body.starts_with("POST ")) {
    const size_t end = body.find("\r\n\r\n");
    if (end == std::string_view::npos || end + 4 > cs::kMaxRequestHead) return 0;
    head = std::string(body.substr(0, end + 4));
    body.remove_prefix(end + 4);
  }
  auto req = cs::ParseHttpRequest(head);
  if (!req.ok()) return 0;
  int code = 0;
  auto route = cs::RouteOf(*req, &code);
  // The canned heads name no real kind: route them to the fuzzed request's.
  const std::string_view kind =
      route.ok() && cs::KindMatches(route->kind, cached) ? route->kind : KindOf(cached);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  const int big = 4 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  cricket::UniqueFd client(sv[1]);
  FuzzConn conn{cricket::UniqueFd(sv[0])};
  for (size_t off = 0; off < body.size();) {
    const ssize_t n = send(client.get(), body.data() + off, body.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  shutdown(client.get(), SHUT_WR);

  static cs::BufferPool pool(/*total=*/256 << 10, /*floor=*/64 << 10, /*cap=*/128 << 10,
                             /*max_connections=*/2);
  cs::SessionOptions options;
  options.idle_timeout_ns = 200LL * 1000 * 1000;
  options.creation_timeout_ns = 200LL * 1000 * 1000;
  options.write_timeout_ns = 200LL * 1000 * 1000;
  options.dial_timeout_ns = 50LL * 1000 * 1000;
  options.max_port_pairs = 4;
  options.max_pairs_per_port = 2;
  options.buffers = &pool;
  FuzzRuntime runtime;
  cs::ServeUpgrade(conn, *req, kind, cached, runtime, options);
  return 0;
}
