// StreamingServer's gate: every connection that has not presented a valid token yet. One thread serves
// them all with poll(2): TLS handshakes and request heads advance without blocking, each connection
// holds at most its head (16 KiB) and a TLS state, and each must have sent its request within the
// pending timeout. Requests without a valid token are answered here and closed; a valid one gets a
// session thread (server.cc), if the session limits allow. When max_pending connections are waiting,
// a new one displaces the oldest connection of the client address holding the most: whoever floods the
// port displaces its own connections, and a token holder, who sends its request at once, gets through.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/server.h"
#include "server/streaming/thread.h"
#include "server/streaming/upgrade.h"

namespace cricket::streaming {
namespace {

constexpr std::string_view kLog = "streaming";
// After an answer, how long to read what the client still sends before closing (so that the answer is
// not lost to a reset), and how long to wait for the answer to be taken.
constexpr int64_t kLingerNs = 2LL * 1000 * 1000 * 1000;
constexpr int64_t kAnswerWriteNs = 100LL * 1000 * 1000;
// Connections accepted per round of the loop, and the pause after the process ran out of descriptors.
constexpr int kAcceptBurst = 64;
constexpr int64_t kAcceptPauseNs = 100LL * 1000 * 1000;

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string PeerAddress(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, text, sizeof(text));
  } else if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &a, text, sizeof(text));
    }
  }
  return text;
}

}  // namespace

struct StreamingServer::Pending {
  uint64_t id = 0;
  std::string peer;
  int64_t deadline = 0;
  std::unique_ptr<TlsHandshake> tls;  // while the TLS handshake runs
  std::unique_ptr<Conn> conn;         // after it (at once without TLS)
  std::string head;
  short events = POLLIN;
  bool answered = false;  // answered and half-closed: reading until the client closes, then closing

  int fd() const { return tls ? tls->fd() : conn->fd(); }

  // Writes a complete response, ends our side and lingers until the client closes or kLingerNs.
  void Answer(int code, const Headers& headers, std::string_view body) {
    (void)conn->Write(HttpResponse(code, headers, body), MonotonicNow() + kAnswerWriteNs);
    conn->Finish(MonotonicNow() + kAnswerWriteNs);
    shutdown(conn->fd(), SHUT_WR);
    answered = true;
    events = POLLIN;
    head.clear();
    head.shrink_to_fit();
    deadline = std::min(deadline, MonotonicNow() + kLingerNs);
  }
};

void StreamingServer::GateLoop() {
  PendingMap pending;  // by id: the oldest first
  uint64_t next_id = 0;
  int64_t pause_until = 0;
  while (true) {
    const int64_t now = MonotonicNow();
    const bool accepting = now >= pause_until;
    std::vector<pollfd> fds = {{stop_fd_.get(), POLLIN, 0}, {accepting ? listen_fd_.get() : -1, POLLIN, 0}};
    std::vector<uint64_t> ids;
    int64_t wake = now + 1000LL * 1000 * 1000;  // finished sessions are reaped at least every second
    if (!accepting) wake = std::min(wake, pause_until);
    for (auto& [id, p] : pending) {
      fds.push_back({p.fd(), p.events, 0});
      ids.push_back(id);
      wake = std::min(wake, p.deadline);
    }
    if (poll(fds.data(), fds.size(), PollTimeoutMs(std::max<int64_t>(wake, now + 1))) < 0 && errno != EINTR) {
      log::Error(kLog, "poll on stream connections failed", {{"error", ErrnoError("poll", "stream gate")}});
      pause_until = MonotonicNow() + kAcceptPauseNs;
      continue;
    }
    if (fds[0].revents != 0) break;
    try {
      Round(pending, fds, ids, accepting, &next_id, &pause_until);
    } catch (const std::exception& e) {
      // Out of memory, most likely: drop the oldest waiting connection rather than the whole gate.
      log::Error(kLog, "stream gate round failed", {{"error", e.what()}});
      if (!pending.empty()) pending.erase(pending.begin());
    }
  }
  pending.clear();  // closes them
}

// One round of the gate after poll: finished sessions, waiting connections that have something,
// expired ones, then new ones.
void StreamingServer::Round(PendingMap& pending, const std::vector<pollfd>& fds,
                            const std::vector<uint64_t>& ids, bool accepting, uint64_t* next_id,
                            int64_t* pause_until) {
  {
    ReapFinished();
    // Connections that sent something first: a request already there is not displaced by newcomers.
    for (size_t k = 0; k < ids.size(); ++k) {
      if (fds[2 + k].revents == 0) continue;
      auto it = pending.find(ids[k]);
      if (it != pending.end() && !Step(it->second)) pending.erase(it);
    }
    const int64_t after = MonotonicNow();
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->second.deadline <= after) {
        if (!it->second.answered)
          log::Debug(kLog, "stream connection sent no request in time", {{"peer", it->second.peer}});
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    if (accepting && fds[1].revents != 0) AcceptSome(pending, next_id, pause_until);
  }
}

void StreamingServer::AcceptSome(PendingMap& pending, uint64_t* next_id, int64_t* pause_until) {
  for (int i = 0; i < kAcceptBurst; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    UniqueFd fd(
        accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: give one back and let the listener rest a little, rather than
        // spin on a listener that stays readable.
        log::Warn(kLog, "cannot accept stream connections",
                  {{"error", ErrnoError("accept", "stream connection")}});
        if (!pending.empty()) pending.erase(pending.begin());
        *pause_until = MonotonicNow() + kAcceptPauseNs;
      }
      return;  // EAGAIN: all taken; ECONNABORTED and the like: nothing to serve
    }
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (pending.size() >= options_.max_pending) {
      // Displace: an answered connection if any, else the oldest of the address holding the most.
      auto victim = pending.end();
      std::map<std::string, size_t> per_peer;
      for (auto it = pending.begin(); it != pending.end(); ++it) {
        if (it->second.answered) {
          victim = it;
          break;
        }
        ++per_peer[it->second.peer];
      }
      if (victim == pending.end()) {
        std::string busiest;
        size_t most = 0;
        for (const auto& [peer, n] : per_peer) {
          if (n > most) most = n, busiest = peer;
        }
        victim = pending.begin();
        while (victim->second.peer != busiest) ++victim;
      }
      pending.erase(victim);
    }
    Pending p;
    p.id = (*next_id)++;
    p.peer = PeerAddress(ss);
    p.deadline = MonotonicNow() + options_.pending_timeout_ns;
    if (ssl_ctx_) {
      auto tls = TlsHandshake::Start(std::move(fd), ssl_ctx_.get());
      if (!tls.ok()) {
        log::Warn(kLog, "cannot start TLS on a stream connection", {{"error", tls.status()}});
        continue;
      }
      p.tls = *std::move(tls);
    } else {
      p.conn = NewSocketConn(std::move(fd));
    }
    auto it = pending.emplace(p.id, std::move(p)).first;
    // The request is often there already.
    if (!Step(it->second)) pending.erase(it);
  }
}

// Advances one pending connection; false when the gate is done with it (dropped, or handed to a session).
bool StreamingServer::Step(Pending& p) {
  try {
    if (p.tls) {
      absl::StatusOr<short> next = p.tls->Continue();
      if (!next.ok()) {
        log::Info(kLog, "stream TLS handshake failed", {{"peer", p.peer}, {"error", next.status()}});
        return false;
      }
      if (*next != 0) {
        p.events = *next;
        return true;
      }
      p.conn = p.tls->TakeConn();
      p.tls.reset();
      p.events = POLLIN;
    }
    char buf[4096];
    while (true) {
      absl::StatusOr<ReadResult> r = p.conn->Read(buf, sizeof(buf));
      if (!r.ok() || r->eof) return false;
      if (r->n == 0) return true;
      if (p.answered) continue;  // read and dropped until the client closes
      p.head.append(buf, r->n);
      // The head ends at the first blank line; the bytes after it belong to the upgraded protocol.
      const size_t end = p.head.find("\r\n\r\n", p.head.size() > r->n + 3 ? p.head.size() - r->n - 3 : 0);
      if (end != std::string::npos && end + 4 <= kMaxRequestHead) return HandleRequest(p, end + 4);
      if (p.head.size() > kMaxRequestHead) {
        p.Answer(400, {}, StrCat("HTTP request head exceeds ", kMaxRequestHead, " bytes\n"));
      }
    }
  } catch (const std::exception& e) {
    log::Error(kLog, "dropping a stream connection", {{"peer", p.peer}, {"error", e.what()}});
    return false;
  }
}

bool StreamingServer::HandleRequest(Pending& p, size_t head_len) {
  absl::StatusOr<HttpRequest> parsed = ParseHttpRequest(std::string_view(p.head).substr(0, head_len));
  if (!parsed.ok()) {
    p.Answer(400, {}, StrCat(ToStd(parsed.status().message()), "\n"));
    return true;
  }
  int code = 0;
  absl::StatusOr<Route> route = RouteOf(*parsed, &code);
  if (!route.ok()) {
    Headers h;
    if (code == 405) h.emplace_back("Allow", "GET, POST");
    p.Answer(code, h, StrCat(ToStd(route.status().message()), "\n"));
    return true;
  }
  // The session limits are checked before the token is used up: a client refused for now keeps it.
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    std::string why;
    if (sessions_.size() >= options_.max_connections) {
      why = "too many streaming connections\n";
    } else if (auto it = sessions_per_peer_.find(p.peer);
               it != sessions_per_peer_.end() && it->second >= options_.max_connections_per_peer) {
      why = "too many streaming connections from this address\n";
    }
    if (!why.empty()) {
      log::Warn(kLog, "refusing a streaming session", {{"peer", p.peer}, {"reason", why}});
      p.Answer(503, {}, why);
      return true;
    }
  }
  std::optional<CachedRequest> cached = cache_.Consume(route->token);
  if (!cached || !KindMatches(route->kind, *cached)) {
    p.Answer(404, {}, "404 page not found\n");
    return true;
  }
  p.conn->Unread(std::string_view(p.head).substr(head_len));
  StartSession(p, *std::move(parsed), route->kind, *std::move(cached));
  return false;
}

void StreamingServer::StartSession(Pending& p, HttpRequest request, std::string kind, CachedRequest cached) {
  Session* session;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_session_++;
    session = &sessions_[id];
    session->conn = std::move(p.conn);
    session->fd = session->conn->fd();
    session->peer = p.peer;
    session->request = std::move(request);
    session->kind = std::move(kind);
    session->cached = std::move(cached);
    ++sessions_per_peer_[p.peer];
  }
  absl::StatusOr<std::thread> thread = StartThread("stream-conn", [this, session] { RunSession(session); });
  absl::MutexLock lock(&mu_);
  if (thread.ok()) {
    session->thread = *std::move(thread);
    return;
  }
  // No thread for it: this request fails, the server goes on.
  log::Error(kLog, "cannot serve a streaming session", {{"error", thread.status()}});
  (void)session->conn->Write(HttpResponse(503, {}, "cannot start a streaming session\n"),
                             MonotonicNow() + kAnswerWriteNs);
  if (auto it = sessions_per_peer_.find(session->peer); it != sessions_per_peer_.end() && --it->second == 0) {
    sessions_per_peer_.erase(it);
  }
  sessions_.erase(id);
}

}  // namespace cricket::streaming
