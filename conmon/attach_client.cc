#include "conmon/attach_client.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <memory>

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::conmon {
namespace {

// Queued bytes towards conmon before stdin is no longer read.
constexpr size_t kMaxOutgoing = 64 * 1024;
// A write of at most PIPE_BUF bytes to a pipe that polled writable does not block.
constexpr size_t kWriteChunk = 4096;

absl::Status SendAll(int fd, const std::string& message) {
  ssize_t n;
  do {
    n = send(fd, message.data(), message.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError("send to", "the attach socket");
  return absl::OkStatus();
}

// Blocks SIGPIPE in this thread; a SIGPIPE raised by a write to a closed pipe stays pending and is
// consumed here instead of killing the process.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SigpipeGuard() {
    if (!sigismember(&old_, SIGPIPE)) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

class Pump {
 public:
  Pump(int sock, const AttachStreams& s) : sock_(sock), s_(s), stdin_open_(s.stdin_fd >= 0) {}
  absl::Status Run();

 private:
  void Queue(std::string m) {
    outgoing_bytes_ += m.size();
    outgoing_.push_back(std::move(m));
  }
  void ReadSocket();
  void SendQueued();
  void ReadStdin();
  // False when the reader of the output descriptor is gone.
  bool WriteOutput();

  int sock_;
  const AttachStreams& s_;
  bool stdin_open_;
  bool closed_ = false;
  std::deque<std::string> outgoing_;
  size_t outgoing_bytes_ = 0;
  int out_fd_ = -1;
  std::string out_;
  size_t out_off_ = 0;
  std::unique_ptr<char[]> buf_{new char[kMaxMessage]};
};

absl::Status Pump::Run() {
  enum { kPollCancel, kPollSock, kPollStdin, kPollResize, kPollOut, kPollCount };
  for (;;) {
    bool writing = out_off_ < out_.size();
    if (closed_ && !writing) return absl::OkStatus();
    pollfd p[kPollCount];
    p[kPollCancel] = {s_.cancel_fd, POLLIN, 0};
    short sock_events =
        static_cast<short>((!closed_ && !writing ? POLLIN : 0) | (!outgoing_.empty() ? POLLOUT : 0));
    p[kPollSock] = {closed_ || sock_events == 0 ? -1 : sock_, sock_events, 0};
    p[kPollStdin] = {stdin_open_ && outgoing_bytes_ < kMaxOutgoing ? s_.stdin_fd : -1, POLLIN, 0};
    p[kPollResize] = {s_.next_resize ? s_.resize_fd : -1, POLLIN, 0};
    p[kPollOut] = {writing ? out_fd_ : -1, POLLOUT, 0};
    int rc = poll(p, kPollCount, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return ErrnoError("poll", "attach session");
    if (p[kPollCancel].revents) return absl::OkStatus();
    if (p[kPollOut].revents && !WriteOutput()) return absl::OkStatus();
    if (p[kPollSock].revents & POLLOUT) SendQueued();
    if (!writing && (p[kPollSock].revents & (POLLIN | POLLHUP | POLLERR))) ReadSocket();
    if (p[kPollStdin].revents) ReadStdin();
    if (p[kPollResize].revents) {
      while (auto size = s_.next_resize()) Queue(EncodeResize(kResize, *size));
    }
  }
}

void Pump::ReadSocket() {
  ssize_t n;
  do {
    n = recv(sock_, buf_.get(), kMaxMessage, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    closed_ = true;
    return;
  }
  auto type = static_cast<uint8_t>(buf_[0]);
  int fd = type == kStdout ? s_.stdout_fd : type == kStderr ? s_.stderr_fd : -1;
  if (fd < 0 || n == 1) return;
  out_fd_ = fd;
  out_.assign(buf_.get() + 1, static_cast<size_t>(n - 1));
  out_off_ = 0;
}

bool Pump::WriteOutput() {
  size_t len = std::min(kWriteChunk, out_.size() - out_off_);
  ssize_t n = write(out_fd_, out_.data() + out_off_, len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n < 0) return false;  // EPIPE: the client's side of the stream is gone
  out_off_ += static_cast<size_t>(n);
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
  return true;
}

void Pump::SendQueued() {
  while (!outgoing_.empty()) {
    const std::string& m = outgoing_.front();
    ssize_t n = send(sock_, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      closed_ = true;  // conmon went away; its EOF follows
      outgoing_.clear();
      outgoing_bytes_ = 0;
      return;
    }
    outgoing_bytes_ -= m.size();
    outgoing_.pop_front();
  }
}

void Pump::ReadStdin() {
  ssize_t n = read(s_.stdin_fd, buf_.get(), kMaxPayload);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    stdin_open_ = false;
    Queue(EncodeMessage(kStdinClose));
    return;
  }
  Queue(EncodeMessage(kStdin, std::string_view(buf_.get(), static_cast<size_t>(n))));
}

}  // namespace

absl::StatusOr<AttachConnection> AttachConnection::Connect(const std::string& attach_socket,
                                                           bool attach_stdin) {
  auto fd = ConnectUnixSocket(attach_socket, SOCK_SEQPACKET);
  if (!fd.ok()) {
    return absl::UnavailableError(StrCat("container monitor not reachable: ", ToStd(fd.status().message())));
  }
  AttachConnection c(std::move(*fd));
  char flags = attach_stdin ? static_cast<char>(kHelloStdin) : 0;
  RETURN_IF_ERROR(SendAll(c.fd(), EncodeMessage(kHello, std::string_view(&flags, 1))));
  return c;
}

absl::Status AttachConnection::SendStdin(std::string_view data) {
  while (!data.empty()) {
    std::string_view part = data.substr(0, kMaxPayload);
    RETURN_IF_ERROR(SendAll(fd(), EncodeMessage(kStdin, part)));
    data.remove_prefix(part.size());
  }
  return absl::OkStatus();
}

absl::Status AttachConnection::CloseStdin() { return SendAll(fd(), EncodeMessage(kStdinClose)); }

absl::Status AttachConnection::Resize(WindowSize size) { return SendAll(fd(), EncodeResize(kResize, size)); }

absl::StatusOr<std::optional<std::pair<uint8_t, std::string>>> AttachConnection::Receive(int timeout_ms) {
  for (;;) {
    pollfd p{fd(), POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return ErrnoError("poll", "the attach socket");
    if (rc == 0) return std::nullopt;
    std::string buf(kMaxMessage, '\0');
    ssize_t n = recv(fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoError("receive from", "the attach socket");
    if (n == 0) return std::make_optional(std::make_pair(kAttachClosed, std::string()));
    return std::make_optional(
        std::make_pair(static_cast<uint8_t>(buf[0]), buf.substr(1, static_cast<size_t>(n - 1))));
  }
}

absl::Status RunAttachSession(const std::string& attach_socket, const AttachStreams& streams) {
  SigpipeGuard guard;
  ASSIGN_OR_RETURN(AttachConnection conn, AttachConnection::Connect(attach_socket, streams.stdin_fd >= 0));
  Pump pump(conn.fd(), streams);
  return pump.Run();
}

}  // namespace cricket::conmon
