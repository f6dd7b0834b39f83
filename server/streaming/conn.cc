#include "server/streaming/conn.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::streaming {
namespace {

std::string SslErrorText() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? "unknown TLS error" : text;
}

class SocketConn : public Conn {
 public:
  explicit SocketConn(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const override { return fd_.get(); }

  absl::Status Write(std::string_view data, int64_t deadline) override {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        RETURN_IF_ERROR(WaitFd(fd_.get(), POLLOUT, deadline));
        continue;
      }
      return ErrnoError("send to", "stream client");
    }
    return absl::OkStatus();
  }

  void Shutdown() override { ::shutdown(fd_.get(), SHUT_RDWR); }

 protected:
  absl::StatusOr<ReadResult> ReadSome(char* buf, size_t len) override {
    while (true) {
      const ssize_t n = ::recv(fd_.get(), buf, len, 0);
      if (n > 0) return ReadResult{static_cast<size_t>(n), false};
      if (n == 0) return ReadResult{0, true};
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return ReadResult{};
      if (errno == ECONNRESET) return ReadResult{0, true};
      return ErrnoError("recv from", "stream client");
    }
  }

 private:
  UniqueFd fd_;
};

class TlsConn : public Conn {
 public:
  TlsConn(UniqueFd fd, SSL* ssl) : fd_(std::move(fd)), ssl_(ssl) {}
  ~TlsConn() override { SSL_free(ssl_); }
  int fd() const override { return fd_.get(); }
  bool HasBuffered() const override { return Conn::HasBuffered() || SSL_pending(ssl_) > 0; }

  absl::Status Write(std::string_view data, int64_t deadline) override {
    while (!data.empty()) {
      ERR_clear_error();
      const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      const int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_WRITE) {
        RETURN_IF_ERROR(WaitFd(fd_.get(), POLLOUT, deadline));
      } else if (err == SSL_ERROR_WANT_READ) {
        RETURN_IF_ERROR(WaitFd(fd_.get(), POLLIN, deadline));
      } else {
        return absl::UnavailableError(StrCat("TLS write to stream client: ", SslErrorText()));
      }
    }
    return absl::OkStatus();
  }

  void Shutdown() override { ::shutdown(fd_.get(), SHUT_RDWR); }
  void Finish(int64_t) override {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }

  // One step of the server handshake: 0 when done, else the events to wait for.
  absl::StatusOr<short> AcceptStep() {
    ERR_clear_error();
    const int rc = SSL_accept(ssl_);
    if (rc == 1) return 0;
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) return POLLIN;
    if (err == SSL_ERROR_WANT_WRITE) return POLLOUT;
    return absl::UnauthenticatedError(StrCat("TLS handshake with stream client failed: ", SslErrorText()));
  }

 protected:
  absl::StatusOr<ReadResult> ReadSome(char* buf, size_t len) override {
    ERR_clear_error();
    const int n = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(len, 1 << 20)));
    if (n > 0) return ReadResult{static_cast<size_t>(n), false};
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return ReadResult{};
    if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) return ReadResult{0, true};
    return absl::UnavailableError(StrCat("TLS read from stream client: ", SslErrorText()));
  }

 private:
  UniqueFd fd_;
  SSL* ssl_;
};

absl::Status SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return ErrnoError("set O_NONBLOCK on", "socket");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReadResult> Conn::Read(char* buf, size_t len) {
  if (!unread_.empty()) {
    const size_t n = std::min(len, unread_.size());
    memcpy(buf, unread_.data(), n);
    unread_.erase(0, n);
    return ReadResult{n, false};
  }
  return ReadSome(buf, len);
}

short ClientEvents(bool reading) { return reading ? POLLIN : POLLRDHUP; }

bool ClientHungUp(short revents) { return (revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0; }

int PollTimeoutMs(int64_t deadline) {
  if (deadline <= 0) return -1;
  const int64_t left = deadline - MonotonicNow();
  if (left <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((left + 999999) / 1000000, 1 << 30));
}

absl::Status WaitFd(int fd, short events, int64_t deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (rc > 0) return absl::OkStatus();
    if (rc == 0) return absl::DeadlineExceededError("stream connection timed out");
    if (errno != EINTR) return ErrnoError("poll", "stream connection");
  }
}

std::unique_ptr<Conn> NewSocketConn(UniqueFd fd) {
  (void)SetNonBlocking(fd.get());
  return std::make_unique<SocketConn>(std::move(fd));
}

namespace {

class TlsHandshakeImpl : public TlsHandshake {
 public:
  explicit TlsHandshakeImpl(std::unique_ptr<TlsConn> conn) : conn_(std::move(conn)) {}
  int fd() const override { return conn_->fd(); }
  absl::StatusOr<short> Continue() override { return conn_->AcceptStep(); }
  std::unique_ptr<Conn> TakeConn() override { return std::move(conn_); }

 private:
  std::unique_ptr<TlsConn> conn_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsHandshake>> TlsHandshake::Start(UniqueFd fd, SSL_CTX* ctx) {
  RETURN_IF_ERROR(SetNonBlocking(fd.get()));
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return absl::InternalError(StrCat("SSL_new: ", SslErrorText()));
  auto conn = std::make_unique<TlsConn>(std::move(fd), ssl);
  SSL_set_fd(ssl, conn->fd());
  return std::unique_ptr<TlsHandshake>(new TlsHandshakeImpl(std::move(conn)));
}

}  // namespace cricket::streaming
