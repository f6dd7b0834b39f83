#include "server/streaming/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/http_request.h"
#include "server/streaming/thread.h"
#include "server/streaming/upgrade.h"

namespace cricket::streaming {
namespace {

constexpr std::string_view kLog = "streaming";
constexpr int64_t kLingerNs = 2LL * 1000 * 1000 * 1000;

std::string SslErrors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

bool IsIpv6Literal(std::string_view host) { return host.find(':') != std::string_view::npos; }

absl::Status ValidateOptions(const StreamingServerOptions& o) {
  if (o.port < 0 || o.port > 65535) {
    return absl::InvalidArgumentError(StrCat("stream port ", o.port, " is out of range"));
  }
  RETURN_IF_ERROR(BufferPool::Validate(o.total_buffer_bytes, o.connection_buffer_floor,
                                       o.connection_buffer_bytes, o.max_connections));
  if (o.connection_buffer_floor < 64 << 10) {
    // One read of the client or of a process (32 KiB) plus a partial frame must always fit.
    return absl::InvalidArgumentError("the per-connection stream buffer floor must be at least 64 KiB");
  }
  if (o.max_connections_per_peer == 0 || o.max_pending == 0 || o.max_port_pairs == 0 ||
      o.max_pairs_per_port == 0) {
    return absl::InvalidArgumentError("streaming connection and port-forward limits must be at least 1");
  }
  if (o.pending_timeout_ns <= 0)
    return absl::InvalidArgumentError("the stream request timeout must be positive");
  return absl::OkStatus();
}

}  // namespace

void StreamingServer::SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

StreamingServer::StreamingServer(const StreamingServerOptions& options,
                                 std::shared_ptr<StreamingRuntime> runtime)
    : options_(options),
      runtime_(std::move(runtime)),
      cache_(RequestCache::Options{options.token_ttl_ns, options.max_tokens, {}, {}}),
      buffers_(options.total_buffer_bytes, options.connection_buffer_floor, options.connection_buffer_bytes,
               options.max_connections) {
  session_options_.idle_timeout_ns = options.idle_timeout_ns;
  session_options_.creation_timeout_ns = options.creation_timeout_ns;
  session_options_.max_port_pairs = options.max_port_pairs;
  session_options_.max_pairs_per_port = options.max_pairs_per_port;
  session_options_.buffers = &buffers_;
}

absl::StatusOr<std::unique_ptr<StreamingServer>> StreamingServer::Start(
    const StreamingServerOptions& options, std::shared_ptr<StreamingRuntime> runtime) {
  if (!runtime) return absl::InvalidArgumentError("streaming server needs a runtime");
  RETURN_IF_ERROR(ValidateOptions(options));
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<StreamingServer> server(new StreamingServer(options, std::move(runtime)));
  if (options.enable_tls) RETURN_IF_ERROR(server->SetUpTls());
  RETURN_IF_ERROR(server->Listen());
  server->stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!server->stop_fd_) return ErrnoError("create", "eventfd");
  ASSIGN_OR_RETURN(server->gate_thread_, StartThread("stream-gate", [s = server.get()] { s->GateLoop(); }));
  log::Info(kLog, "streaming server listening", {{"url", server->base_url_}});
  return server;
}

StreamingServer::~StreamingServer() { Stop(); }

absl::Status StreamingServer::SetUpTls() {
  if (options_.tls_cert.empty() || options_.tls_key.empty()) {
    return absl::InvalidArgumentError("stream TLS needs both stream_tls_cert and stream_tls_key");
  }
  ssl_ctx_.reset(SSL_CTX_new(TLS_server_method()));
  if (!ssl_ctx_) return absl::InternalError(StrCat("SSL_CTX_new: ", SslErrors()));
  SSL_CTX_set_min_proto_version(ssl_ctx_.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ssl_ctx_.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ssl_ctx_.get(), options_.tls_cert.c_str()) != 1) {
    return absl::InvalidArgumentError(
        StrCat("stream TLS certificate ", options_.tls_cert, ": ", SslErrors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ssl_ctx_.get(), options_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ssl_ctx_.get()) != 1) {
    return absl::InvalidArgumentError(StrCat("stream TLS key ", options_.tls_key, ": ", SslErrors()));
  }
  if (!options_.tls_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ssl_ctx_.get(), options_.tls_ca.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(StrCat("stream TLS CA ", options_.tls_ca, ": ", SslErrors()));
    }
    SSL_CTX_set_verify(ssl_ctx_.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return absl::OkStatus();
}

absl::Status StreamingServer::Listen() {
  std::string address = options_.address.empty() ? "0.0.0.0" : options_.address;
  if (address.size() > 2 && address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = StrCat(options_.port);
  if (int rc = getaddrinfo(address.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(StrCat("stream address \"", address, "\": ", gai_strerror(rc)));
  }
  const std::string where = StrCat(address, ":", options_.port);
  // Non-blocking: the gate accepts until EAGAIN.
  UniqueFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    freeaddrinfo(res);
    return ErrnoError("create socket for", where);
  }
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int bound = bind(fd.get(), res->ai_addr, res->ai_addrlen);
  const int family = res->ai_family;
  freeaddrinfo(res);
  if (bound != 0) return ErrnoError("bind stream server to", where);
  // Connections are handed over only once their first bytes are there (the request head, or a TLS
  // ClientHello): a client that connects and sends nothing never costs the gate anything, and the
  // kernel drops it after the pending timeout.
  const int defer_s =
      static_cast<int>(std::max<int64_t>(1, (options_.pending_timeout_ns + 999999999) / 1000000000));
  setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof(defer_s));
  if (listen(fd.get(), 1024) != 0) return ErrnoError("listen on", where);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return ErrnoError("getsockname", where);
  port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd_ = std::move(fd);

  std::string host = options_.url_host;
  if (host.empty()) {
    host = address;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
  }
  if (IsIpv6Literal(host) && host.front() != '[') host = StrCat("[", host, "]");
  base_url_ = StrCat(options_.enable_tls ? "https" : "http", "://", host, ":", port_);
  return absl::OkStatus();
}

void StreamingServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (stop_fd_) {
    const uint64_t one = 1;
    (void)!write(stop_fd_.get(), &one, sizeof(one));
  }
  if (gate_thread_.joinable()) gate_thread_.join();  // it closes every pending connection
  std::map<uint64_t, Session> left;
  {
    // No session starts any more: shut every one down (their backends see cancellation) and wait.
    absl::MutexLock lock(&mu_);
    for (auto& [id, session] : sessions_) {
      if (session.fd >= 0) shutdown(session.fd, SHUT_RDWR);
    }
    left.swap(sessions_);
  }
  for (auto& [id, session] : left) {
    if (session.thread.joinable()) session.thread.join();
  }
  listen_fd_.reset();
}

void StreamingServer::ReapFinished() {
  std::vector<std::thread> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second.done) {
        finished.push_back(std::move(it->second.thread));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (std::thread& t : finished) {
    if (t.joinable()) t.join();
  }
}

void StreamingServer::RunSession(Session* session) {
  Conn& conn = *session->conn;
  const int raw = conn.fd();
  // Whatever happens in the session, even an exception, the connection closes and its slot is freed.
  absl::Cleanup release = [&] {
    std::unique_ptr<Conn> closing;
    {
      absl::MutexLock lock(&mu_);
      session->fd = -1;
      closing = std::move(session->conn);
      session->done = true;
      if (auto it = sessions_per_peer_.find(session->peer);
          it != sessions_per_peer_.end() && --it->second == 0) {
        sessions_per_peer_.erase(it);
      }
    }
    // The descriptor closes here, after Stop() can no longer shut it down.
  };
  log::Debug(kLog, "streaming request", {{"kind", session->kind}, {"method", session->request.method}});
  ServeUpgrade(conn, session->request, session->kind, session->cached, *runtime_, session_options_);
  // Lingering close: stop sending, then read until the client closes (or briefly), so that unread
  // client bytes do not turn our close into a reset that could discard the final frames in flight.
  const int64_t deadline = MonotonicNow() + kLingerNs;
  conn.Finish(deadline);
  shutdown(raw, SHUT_WR);
  char buf[4096];
  while (WaitFd(raw, POLLIN, deadline).ok()) {
    auto r = conn.Read(buf, sizeof(buf));
    if (!r.ok() || r->eof) break;
  }
}

absl::StatusOr<std::string> StreamingServer::Url(std::string_view kind, CachedRequest request) {
  ASSIGN_OR_RETURN(std::string token, cache_.Insert(std::move(request)));
  return StrCat(base_url_, "/", kind, "/", token);
}

absl::StatusOr<std::string> StreamingServer::GetExecUrl(const ExecParams& p) {
  if (p.container_id.empty()) return absl::InvalidArgumentError("exec: container_id is required");
  if (p.cmd.empty()) return absl::InvalidArgumentError("exec: cmd is required");
  if (p.tty && p.stderr) return absl::InvalidArgumentError("exec: tty and stderr cannot both be true");
  if (!p.stdin && !p.stdout && !p.stderr) {
    return absl::InvalidArgumentError("exec: one of stdin, stdout and stderr must be true");
  }
  return Url("exec", p);
}

absl::StatusOr<std::string> StreamingServer::GetAttachUrl(const AttachParams& p) {
  if (p.container_id.empty()) return absl::InvalidArgumentError("attach: container_id is required");
  if (p.tty && p.stderr) return absl::InvalidArgumentError("attach: tty and stderr cannot both be true");
  if (!p.stdin && !p.stdout && !p.stderr) {
    return absl::InvalidArgumentError("attach: one of stdin, stdout and stderr must be true");
  }
  return Url("attach", p);
}

absl::StatusOr<std::string> StreamingServer::GetPortForwardUrl(const PortForwardParams& p) {
  if (p.sandbox_id.empty()) return absl::InvalidArgumentError("port-forward: pod_sandbox_id is required");
  for (int32_t port : p.ports) {
    if (port < 1 || port > 65535)
      return absl::InvalidArgumentError(StrCat("port-forward: invalid port ", port));
  }
  return Url("portforward", p);
}

}  // namespace cricket::streaming
