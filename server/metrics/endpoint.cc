#include "server/metrics/endpoint.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::metrics {

namespace {

constexpr char kComponent[] = "metrics";
constexpr size_t kMaxRequest = 8192;

absl::StatusOr<UniqueFd> ListenTcp(const std::string& host, int port, int* bound_port) {
  std::string name = host.empty() || host == "0.0.0.0" ? "" : host;
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo* res = nullptr;
  std::string service = StrCat(port);
  if (int rc = ::getaddrinfo(name.empty() ? nullptr : name.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(StrCat("metrics_host \"", host, "\": ", gai_strerror(rc)));
  }
  std::string where = StrCat(host.empty() ? "*" : host, ":", port);
  absl::Status last = absl::UnavailableError(StrCat("no address to listen on for ", where));
  for (struct addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
      last = ErrnoError("socket for", where);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 16) != 0) {
      last = ErrnoError("listen on", where);
      continue;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ::getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&ss), &len);
    *bound_port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_port)
                                           : ntohs(reinterpret_cast<struct sockaddr_in*>(&ss)->sin_port);
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return last;
}

absl::StatusOr<UniqueFd> ListenUnix(const std::string& path) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        StrCat("metrics_socket ", path, " is longer than a socket path may be"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(StrCat("metrics_socket ", path, " exists and is not a socket"));
    }
    if (::unlink(path.c_str()) != 0) return ErrnoError("remove stale metrics socket", path);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoError("socket for", path);
  mode_t old = ::umask(0117);
  int rc = ::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0 || ::listen(fd.get(), 16) != 0) return ErrnoError("listen on", path);
  return fd;
}

// Writes all of `data`, waiting at most `timeout_ms` in all for the peer to take it.
bool WriteAll(int fd, std::string_view data, int timeout_ms) {
  int64_t deadline = MonotonicNow() + int64_t{timeout_ms} * 1'000'000;
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    int left = static_cast<int>((deadline - MonotonicNow()) / 1'000'000);
    if (left <= 0) return false;
    struct pollfd p = {fd, POLLOUT, 0};
    if (::poll(&p, 1, left) <= 0) return false;
  }
  return true;
}

std::string Reply(std::string_view status, std::string_view content_type, std::string_view body,
                  bool head = false) {
  return StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type, "\r\nContent-Length: ", body.size(),
                "\r\nConnection: close\r\n\r\n", head ? std::string_view() : body);
}

}  // namespace

std::string HttpResponse(std::string_view request, const std::function<std::string()>& render) {
  size_t eol = request.find("\r\n");
  std::string_view line = request.substr(0, eol == std::string_view::npos ? request.size() : eol);
  std::vector<std::string_view> parts = Split(line, ' ');
  if (parts.size() != 3 || !parts[2].starts_with("HTTP/1.")) {
    return Reply("400 Bad Request", "text/plain", "malformed request line\n");
  }
  std::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path != "/metrics") return Reply("404 Not Found", "text/plain", "not found; try /metrics\n");
  if (parts[0] != "GET" && parts[0] != "HEAD") {
    return Reply("405 Method Not Allowed", "text/plain", "only GET and HEAD\n");
  }
  return Reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", render(), parts[0] == "HEAD");
}

absl::StatusOr<std::unique_ptr<Endpoint>> Endpoint::Start(const EndpointOptions& options,
                                                          std::function<std::string()> render) {
  std::unique_ptr<Endpoint> e(new Endpoint());
  e->options_ = options;
  e->render_ = std::move(render);
  ASSIGN_OR_RETURN(e->tcp_, ListenTcp(options.host, options.port, &e->port_));
  if (!options.socket_path.empty()) {
    ASSIGN_OR_RETURN(e->unix_, ListenUnix(options.socket_path));
  }
  e->stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!e->stop_) return ErrnoError("eventfd", "metrics endpoint");
  e->thread_ = std::thread([p = e.get()] { p->Serve(); });
  return e;
}

Endpoint::~Endpoint() { Stop(); }

void Endpoint::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  thread_.join();
  tcp_.reset();
  if (unix_) {
    unix_.reset();
    ::unlink(options_.socket_path.c_str());
  }
}

void Endpoint::Serve() {
  for (;;) {
    struct pollfd fds[3] = {{stop_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}, {unix_.get(), POLLIN, 0}};
    nfds_t n = unix_ ? 3 : 2;
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      log::Error(kComponent, "poll failed; the metrics endpoint stops", {{"errno", ErrnoName(errno)}});
      return;
    }
    if (fds[0].revents) return;
    for (nfds_t i = 1; i < n; ++i) {
      if (!fds[i].revents) continue;
      UniqueFd conn(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (conn) HandleConnection(conn.get());
    }
  }
}

void Endpoint::HandleConnection(int fd) {
  std::string request;
  int64_t deadline = MonotonicNow() + int64_t{options_.request_timeout_ms} * 1'000'000;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
    int left = static_cast<int>((deadline - MonotonicNow()) / 1'000'000);
    if (left <= 0) return;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return;
    ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return;
    }
    request.append(buf, static_cast<size_t>(got));
  }
  (void)WriteAll(fd, HttpResponse(request, render_), options_.request_timeout_ms * 5);
}

}  // namespace cricket::metrics
