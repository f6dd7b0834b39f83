// cricket's CRI streaming server: the HTTP endpoint behind the URLs that the Exec, Attach and PortForward
// RPCs return (https://github.com/kubernetes/cri-api api.proto ExecResponse.url). kubelet, crictl and
// critest connect to such a URL and upgrade to SPDY/3.1 or WebSocket.
//
// Usage by the CRI handlers:
//   auto server = StreamingServer::Start(options, runtime);      // once, at daemon start
//   absl::StatusOr<std::string> url = (*server)->GetExecUrl(params);  // in Exec(); → ExecResponse.url
// The URL is "http(s)://<host>:<port>/exec/<token>"; the token is single-use and expires after a minute.
#pragma once

#include <poll.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/common/unique_fd.h"
#include "server/streaming/budget.h"
#include "server/streaming/conn.h"
#include "server/streaming/http_request.h"
#include "server/streaming/remote_command.h"
#include "server/streaming/request_cache.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming {

struct StreamingServerOptions {
  // [crio.api] stream_address / stream_port. Port 0 picks a free port (see StreamingServer::port()).
  std::string address = "127.0.0.1";
  int port = 0;
  // The host put into URLs. Empty: the listen address, or 127.0.0.1 (::1) when that is a wildcard, so
  // that URLs always name a concrete host (kubelet cannot dial "0.0.0.0" or an empty host).
  std::string url_host;
  // [crio.api] stream_enable_tls / stream_tls_cert / stream_tls_key / stream_tls_ca. With a CA, clients
  // must present a certificate it signed.
  bool enable_tls = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // [crio.api] stream_idle_timeout (4h) and kubelet's stream creation timeout (30s).
  int64_t idle_timeout_ns = 4LL * 3600 * 1000 * 1000 * 1000;
  int64_t creation_timeout_ns = 30LL * 1000 * 1000 * 1000;
  // Token cache: validity and the number of outstanding tokens.
  int64_t token_ttl_ns = 60LL * 1000 * 1000 * 1000;
  size_t max_tokens = 1000;

  // What one client may make the server hold (issue: a user allowed to exec into one pod controls what
  // reaches the server; anyone on the node can connect to it).
  //
  // Sessions: connections that presented a valid token, each served by a thread. More are answered 503,
  // and so are more than max_connections_per_peer from one client address.
  size_t max_connections = 256;
  size_t max_connections_per_peer = 128;
  // Connections that have not presented a valid token yet (TLS handshake, request head): one thread
  // serves them all, each holds little memory, and each must have sent its request within
  // pending_timeout_ns. They are capped on their own: when max_pending are waiting, a new connection
  // displaces the oldest of the client address that holds the most, so a flood of them cannot keep a
  // token holder out.
  size_t max_pending = 128;
  int64_t pending_timeout_ns = 10LL * 1000 * 1000 * 1000;
  // Bytes buffered by sessions (budget.h): each may hold up to connection_buffer_bytes, of which
  // connection_buffer_floor is guaranteed; all together at most total_buffer_bytes, which must cover
  // every session's floor. A session without room stops reading from its client or its process or pod.
  size_t total_buffer_bytes = 24 << 20;
  size_t connection_buffer_floor = 64 << 10;
  size_t connection_buffer_bytes = 1 << 20;
  // Port-forward: connections into the pod at once per session, and per port (SessionOptions).
  size_t max_port_pairs = 128;
  size_t max_pairs_per_port = 64;
};

class StreamingServer {
 public:
  // Binds, listens and starts serving. Sets SIGPIPE to SIG_IGN process-wide (writes to a closed client
  // or pipe must fail with EPIPE, not kill the daemon); a runtime that spawns processes must restore
  // SIG_DFL in the child. Errors name the address or the TLS file that failed.
  static absl::StatusOr<std::unique_ptr<StreamingServer>> Start(const StreamingServerOptions& options,
                                                                std::shared_ptr<StreamingRuntime> runtime);
  ~StreamingServer();  // Stop()
  StreamingServer(const StreamingServer&) = delete;
  StreamingServer& operator=(const StreamingServer&) = delete;

  // Validate the request (container/sandbox id present; tty with stderr is InvalidArgument; exec and
  // attach need at least one of stdin/stdout/stderr; exec needs a command), store it, and return the URL
  // for the client. ResourceExhausted when too many tokens are outstanding. Whether the container exists
  // and runs is for the caller to check first.
  absl::StatusOr<std::string> GetExecUrl(const ExecParams& params);
  absl::StatusOr<std::string> GetAttachUrl(const AttachParams& params);
  absl::StatusOr<std::string> GetPortForwardUrl(const PortForwardParams& params);

  // "http://127.0.0.1:34567" (https with TLS); the bound port.
  const std::string& base_url() const { return base_url_; }
  int port() const { return port_; }

  // Stops accepting, ends every session (their backends see cancellation) and waits for them.
  void Stop();

 private:
  // A connection that presented a valid token, served by its own thread.
  struct Session {
    std::thread thread;
    std::unique_ptr<Conn> conn;  // used by the session thread; closed by it when the session ends
    int fd = -1;                 // for Shutdown() from Stop()
    std::string peer;
    HttpRequest request;
    std::string kind;  // "exec", "attach" or "portforward"
    CachedRequest cached;
    bool done = false;
  };
  struct Pending;  // a connection that has not presented a valid token yet (server_gate.cc)
  using PendingMap = std::map<uint64_t, Pending>;

  StreamingServer(const StreamingServerOptions& options, std::shared_ptr<StreamingRuntime> runtime);
  absl::Status Listen();
  absl::Status SetUpTls();
  // The gate (server_gate.cc): accepts, drives TLS handshakes and request heads of every pending
  // connection, answers those without a valid token, and starts a session for the others.
  void GateLoop();
  void Round(PendingMap& pending, const std::vector<pollfd>& fds, const std::vector<uint64_t>& ids,
             bool accepting, uint64_t* next_id, int64_t* pause_until);
  void AcceptSome(PendingMap& pending, uint64_t* next_id, int64_t* pause_until);
  bool Step(Pending& p);
  bool HandleRequest(Pending& p, size_t head_len);
  void StartSession(Pending& p, HttpRequest request, std::string kind, CachedRequest cached);
  void RunSession(Session* session);
  void ReapFinished();
  absl::StatusOr<std::string> Url(std::string_view kind, CachedRequest request);

  StreamingServerOptions options_;
  std::shared_ptr<StreamingRuntime> runtime_;
  RequestCache cache_;
  BufferPool buffers_;
  SessionOptions session_options_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd waking the gate
  struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const;
  };
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ssl_ctx_;
  std::string base_url_;
  int port_ = 0;
  std::thread gate_thread_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Session> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> sessions_per_peer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::streaming
