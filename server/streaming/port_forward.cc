#include "server/streaming/port_forward.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/spdy_session.h"
#include "server/streaming/websocket.h"

namespace cricket::streaming {
namespace {

constexpr std::string_view kLog = "streaming";
constexpr size_t kChunk = 32 * 1024;
constexpr size_t kMaxOutbox = 1 << 20;
constexpr size_t kMaxPairs = 256;

// Runs StreamingRuntime::DialPort on worker threads (a dial may block for seconds) and hands the results
// to the session thread through an eventfd. The destructor waits for outstanding dials.
class DialQueue {
 public:
  using Result = std::pair<uint64_t, absl::StatusOr<UniqueFd>>;

  DialQueue() : notify_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~DialQueue() {
    for (std::thread& t : threads_) t.join();
  }
  bool ok() const { return notify_.valid(); }
  int fd() const { return notify_.get(); }

  void Start(uint64_t key, const std::string& sandbox_id, int32_t port, StreamingRuntime& runtime) {
    threads_.emplace_back([this, key, sandbox_id, port, &runtime] {
      absl::StatusOr<UniqueFd> fd = runtime.DialPort(sandbox_id, port);
      {
        absl::MutexLock lock(&mu_);
        done_.emplace_back(key, std::move(fd));
      }
      const uint64_t one = 1;
      (void)!write(notify_.get(), &one, sizeof(one));
    });
  }

  std::vector<Result> Take() {
    uint64_t count;
    (void)!read(notify_.get(), &count, sizeof(count));
    absl::MutexLock lock(&mu_);
    return std::exchange(done_, {});
  }

 private:
  UniqueFd notify_;
  absl::Mutex mu_;
  std::vector<Result> done_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// One TCP connection into the pod and the client bytes on their way to it.
struct Target {
  UniqueFd fd;
  std::string outbox;
  bool client_done = false;  // the client sent FIN: shut our write side once the outbox is empty
  bool write_shut = false;
  bool eof = false;  // the pod side closed (or failed)

  // Writes what it can; false when the connection broke.
  bool Drain() {
    while (fd && !outbox.empty()) {
      const ssize_t n = send(fd.get(), outbox.data(), outbox.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        outbox.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return true;
      } else {
        outbox.clear();
        return false;
      }
    }
    if (fd && outbox.empty() && client_done && !write_shut) {
      shutdown(fd.get(), SHUT_WR);
      write_shut = true;
    }
    return true;
  }

  // Reads up to a few chunks; appends to *out; sets eof when the pod closed.
  void Read(std::string* out) {
    char buf[kChunk];
    for (int i = 0; i < 4 && fd && !eof; ++i) {
      const ssize_t n = recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        out->append(buf, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return;
      } else {
        eof = true;
      }
    }
  }

  short PollEvents() const {
    short ev = 0;
    if (!eof) ev |= POLLIN;
    if (!outbox.empty()) ev |= POLLOUT;
    return ev;
  }
};

std::string ForwardError(int32_t port, const std::string& sandbox_id, const absl::Status& error) {
  return StrCat("error forwarding port ", port, " to pod ", sandbox_id, ", uid : ", ToStd(error.message()));
}

// ---------------------------------------------------------------------------------------------------
// SPDY: kubelet's portforward/httpstream.go protocol.

class SpdyPortForward : private spdy::Session::Handler {
 public:
  SpdyPortForward(Conn& conn, const PortForwardParams& params, StreamingRuntime& runtime,
                  const SessionOptions& options)
      : conn_(conn), params_(params), runtime_(runtime), options_(options) {}

  void Run();

 private:
  struct Pair {
    std::string request_id;
    int32_t port = 0;
    uint32_t error_id = 0, data_id = 0;
    int64_t created = 0;
    uint64_t dial_key = 0;
    bool dialing = false;
    Target target;
  };

  void OnStream(uint32_t id, const spdy::HeaderList& headers, bool fin) override;
  void OnData(uint32_t id, std::string_view data, bool fin) override;
  void OnReset(uint32_t id) override;
  void OnGoAway() override { peer_gone_ = true; }

  // Ends a pair: optional error text on its error stream, FIN on both streams, pod connection closed.
  void ClosePair(const std::string& request_id, std::string_view error);
  void HandleDials();
  void ServiceTargets(const std::vector<pollfd>& fds, const std::vector<std::string>& ids, size_t first);
  void ExpireIncompletePairs();
  absl::Status Flush() {
    if (!session_.HasOutput()) return absl::OkStatus();
    return conn_.Write(session_.TakeOutput(), MonotonicNow() + options_.write_timeout_ns);
  }

  Conn& conn_;
  const PortForwardParams& params_;
  StreamingRuntime& runtime_;
  SessionOptions options_;
  spdy::Session session_;
  DialQueue dials_;
  uint64_t next_dial_key_ = 1;
  std::map<std::string, Pair> pairs_;
  std::map<uint32_t, std::string> streams_;  // stream id → request id
  bool peer_gone_ = false;
  int64_t last_activity_ = MonotonicNow();
};

void SpdyPortForward::OnStream(uint32_t id, const spdy::HeaderList& headers, bool) {
  // kubelet's httpStreamReceived: a valid port header and stream type, or the stream is refused.
  const std::string_view type = spdy::FindHeader(headers, "streamtype");
  absl::StatusOr<int32_t> port = ParsePort(spdy::FindHeader(headers, "port"));
  if (!port.ok() || (type != "error" && type != "data") || pairs_.size() >= kMaxPairs) {
    log::Warn(kLog, "refusing port-forward stream",
              {{"type", type},
               {"error", port.ok() ? std::string("too many or bad type") : port.status().ToString()}});
    session_.Reset(id, spdy::RstStatus::kRefusedStream);
    return;
  }
  std::string request_id(spdy::FindHeader(headers, "requestid"));
  if (request_id.empty()) {
    // Clients before requestID: the error stream's id names the pair and its data stream comes next
    // (id + 2), as kubelet's httpStreamHandler.requestID assumes.
    request_id = StrCat(type == "error" ? id : id - 2);
  }
  if (!session_.Reply(id).ok()) {
    session_.Reset(id, spdy::RstStatus::kInternalError);
    return;
  }
  Pair& pair = pairs_[request_id];
  if (pair.created == 0) {
    pair.request_id = request_id;
    pair.created = MonotonicNow();
    pair.port = *port;
  }
  uint32_t& slot = type == "error" ? pair.error_id : pair.data_id;
  if (slot != 0) {
    const std::string msg =
        StrCat("error processing stream for request ", request_id, ": ", type, " stream already assigned");
    if (pair.error_id != 0) session_.Data(pair.error_id, msg, false);
    session_.Reset(id, spdy::RstStatus::kProtocolError);
    return;
  }
  slot = id;
  streams_[id] = request_id;
  if (pair.error_id != 0 && pair.data_id != 0 && !pair.dialing) {
    pair.dialing = true;
    pair.dial_key = next_dial_key_++;
    dials_.Start(pair.dial_key, params_.sandbox_id, pair.port, runtime_);
  }
}

void SpdyPortForward::OnData(uint32_t id, std::string_view data, bool fin) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Pair& pair = pairs_[it->second];
  if (id != pair.data_id) return;  // the client closes its side of the error stream at once; nothing to do
  pair.target.outbox.append(data);
  if (fin) pair.target.client_done = true;
}

void SpdyPortForward::OnReset(uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const std::string request_id = it->second;
  // client-go resets the data stream once the pod side finished; either reset ends the pair.
  ClosePair(request_id, "");
}

void SpdyPortForward::ClosePair(const std::string& request_id, std::string_view error) {
  auto it = pairs_.find(request_id);
  if (it == pairs_.end()) return;
  Pair& pair = it->second;
  if (pair.error_id != 0) session_.Data(pair.error_id, error, true);
  if (pair.data_id != 0 && !pair.target.eof) session_.Data(pair.data_id, "", true);
  streams_.erase(pair.error_id);
  streams_.erase(pair.data_id);
  pairs_.erase(it);
}

void SpdyPortForward::HandleDials() {
  for (auto& [key, fd] : dials_.Take()) {
    auto it = pairs_.begin();
    while (it != pairs_.end() && it->second.dial_key != key) ++it;
    if (it == pairs_.end()) continue;  // the pair ended while dialing; the socket closes here
    if (!fd.ok()) {
      const std::string msg = ForwardError(it->second.port, params_.sandbox_id, fd.status());
      log::Warn(kLog, "port-forward dial failed", {{"error", msg}});
      ClosePair(it->first, msg);
      continue;
    }
    it->second.target.fd = *std::move(fd);
    if (!it->second.target.Drain()) it->second.target.eof = true;
  }
}

void SpdyPortForward::ExpireIncompletePairs() {
  const int64_t now = MonotonicNow();
  std::vector<std::string> expired;
  for (auto& [id, pair] : pairs_) {
    if ((pair.error_id == 0 || pair.data_id == 0) && now - pair.created > options_.creation_timeout_ns) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : expired)
    ClosePair(id, StrCat("timed out waiting for streams of request ", id));
}

void SpdyPortForward::ServiceTargets(const std::vector<pollfd>& fds, const std::vector<std::string>& ids,
                                     size_t first) {
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = pairs_.find(ids[i]);
    if (it == pairs_.end() || fds[first + i].revents == 0) continue;
    Pair& pair = it->second;
    if (!pair.target.Drain()) pair.target.eof = true;
    std::string data;
    const bool was_eof = pair.target.eof;
    pair.target.Read(&data);
    if (!data.empty()) {
      last_activity_ = MonotonicNow();
      session_.Data(pair.data_id, data, false);
    }
    if (pair.target.eof && !was_eof) session_.Data(pair.data_id, "", true);
    // Both directions finished: the pair is over (client-go then expects the error stream to end).
    if (pair.target.eof && pair.target.client_done && pair.target.outbox.empty()) ClosePair(ids[i], "");
  }
}

void SpdyPortForward::Run() {
  if (!dials_.ok()) return;
  char buf[kChunk];
  while (true) {
    if (absl::Status s = Flush(); !s.ok()) break;
    if (peer_gone_) break;
    ExpireIncompletePairs();
    const int64_t idle_deadline = last_activity_ + options_.idle_timeout_ns;
    if (MonotonicNow() >= idle_deadline) {
      log::Info(kLog, "port-forward idle timeout");
      break;
    }
    size_t backlog = 0;
    std::vector<pollfd> fds;
    std::vector<std::string> ids;
    for (auto& [id, pair] : pairs_) backlog = std::max(backlog, pair.target.outbox.size());
    fds.push_back({conn_.fd(), static_cast<short>(backlog < kMaxOutbox ? POLLIN : 0), 0});
    fds.push_back({dials_.fd(), POLLIN, 0});
    for (auto& [id, pair] : pairs_) {
      if (!pair.target.fd || pair.target.PollEvents() == 0) continue;
      fds.push_back({pair.target.fd.get(), pair.target.PollEvents(), 0});
      ids.push_back(id);
    }
    int timeout = PollTimeoutMs(idle_deadline);
    if (!pairs_.empty()) timeout = std::min(timeout < 0 ? 1000 : timeout, 1000);  // creation timeouts
    if (backlog < kMaxOutbox && conn_.HasBuffered()) timeout = 0;
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (backlog < kMaxOutbox && (fds[0].revents != 0 || conn_.HasBuffered())) {
      absl::StatusOr<ReadResult> r = conn_.Read(buf, sizeof(buf));
      if (!r.ok() || r->eof) break;
      if (r->n > 0) {
        last_activity_ = MonotonicNow();
        if (absl::Status s = session_.Feed(std::string_view(buf, r->n), *this); !s.ok()) {
          log::Warn(kLog, "port-forward protocol error", {{"error", s}});
          break;
        }
        for (auto& [id, pair] : pairs_) {
          if (pair.target.fd && !pair.target.Drain()) pair.target.eof = true;
        }
      }
    }
    if (fds[1].revents != 0) HandleDials();
    ServiceTargets(fds, ids, 2);
  }
  session_.GoAway();
  (void)Flush();
}

// ---------------------------------------------------------------------------------------------------
// Plain WebSocket: kubelet's portforward/websocket.go protocol.

class WebSocketPortForward {
 public:
  WebSocketPortForward(Conn& conn, const PortForwardParams& params, const std::vector<int32_t>& ports,
                       StreamingRuntime& runtime, const SessionOptions& options)
      : conn_(conn),
        params_(params),
        ports_(ports),
        runtime_(runtime),
        options_(options),
        targets_(ports.size()) {}

  void Run();

 private:
  void Send(size_t channel, std::string_view data) {
    std::string body(1, static_cast<char>(channel));
    body.append(data);
    out_ += ws::EncodeFrame(ws::kBinary, body);
  }
  absl::Status Feed(std::string_view bytes);

  Conn& conn_;
  const PortForwardParams& params_;
  const std::vector<int32_t>& ports_;
  StreamingRuntime& runtime_;
  SessionOptions options_;
  std::vector<Target> targets_;
  std::vector<bool> finished_ = std::vector<bool>(ports_.size(), false);
  DialQueue dials_;
  ws::MessageReader reader_;
  std::string out_;
  bool peer_gone_ = false;
  int64_t last_activity_ = MonotonicNow();
};

absl::Status WebSocketPortForward::Feed(std::string_view bytes) {
  reader_.Append(bytes);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<ws::Message> m, reader_.Next());
    if (!m) return absl::OkStatus();
    if (m->opcode == ws::kPing) {
      out_ += ws::EncodeFrame(ws::kPong, m->payload);
    } else if (m->opcode == ws::kClose) {
      peer_gone_ = true;
      return absl::OkStatus();
    } else if (m->opcode == ws::kBinary && !m->payload.empty()) {
      const size_t channel = static_cast<uint8_t>(m->payload[0]);
      // Only data channels (even) carry client bytes; anything else is ignored like kubelet does.
      if (channel % 2 == 0 && channel / 2 < targets_.size() && !finished_[channel / 2]) {
        targets_[channel / 2].outbox.append(m->payload, 1);
      }
    }
  }
}

void WebSocketPortForward::Run() {
  if (!dials_.ok()) return;
  for (size_t i = 0; i < ports_.size(); ++i) {
    const char port_le[2] = {static_cast<char>(ports_[i] & 0xff), static_cast<char>((ports_[i] >> 8) & 0xff)};
    Send(2 * i, std::string_view(port_le, 2));
    Send(2 * i + 1, std::string_view(port_le, 2));
    dials_.Start(i, params_.sandbox_id, ports_[i], runtime_);
  }
  size_t remaining = ports_.size();
  char buf[kChunk];
  while (remaining > 0 && !peer_gone_) {
    if (!out_.empty() &&
        !conn_.Write(std::exchange(out_, {}), MonotonicNow() + options_.write_timeout_ns).ok()) {
      return;
    }
    const int64_t idle_deadline = last_activity_ + options_.idle_timeout_ns;
    if (MonotonicNow() >= idle_deadline) break;
    std::vector<pollfd> fds = {{conn_.fd(), POLLIN, 0}, {dials_.fd(), POLLIN, 0}};
    std::vector<size_t> idx;
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (!targets_[i].fd || finished_[i] || targets_[i].PollEvents() == 0) continue;
      fds.push_back({targets_[i].fd.get(), targets_[i].PollEvents(), 0});
      idx.push_back(i);
    }
    const int timeout = conn_.HasBuffered() ? 0 : PollTimeoutMs(idle_deadline);
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0 || conn_.HasBuffered()) {
      absl::StatusOr<ReadResult> r = conn_.Read(buf, sizeof(buf));
      if (!r.ok() || r->eof) return;
      if (r->n > 0) {
        last_activity_ = MonotonicNow();
        if (!Feed(std::string_view(buf, r->n)).ok()) break;
      }
    }
    if (fds[1].revents != 0) {
      for (auto& [i, fd] : dials_.Take()) {
        if (fd.ok()) {
          targets_[i].fd = *std::move(fd);
          continue;
        }
        Send(2 * i + 1, ForwardError(ports_[i], params_.sandbox_id, fd.status()));
        finished_[i] = true;
        --remaining;
      }
    }
    for (size_t k = 0; k < idx.size(); ++k) {
      const size_t i = idx[k];
      if (fds[2 + k].revents == 0 && targets_[i].outbox.empty()) continue;
      if (!targets_[i].Drain()) targets_[i].eof = true;
      std::string data;
      targets_[i].Read(&data);
      if (!data.empty()) {
        last_activity_ = MonotonicNow();
        Send(2 * i, data);
      }
      if (targets_[i].eof) {
        finished_[i] = true;
        --remaining;
      }
    }
  }
  out_ += ws::EncodeClose(ws::kCloseNormal, "");
  (void)conn_.Write(out_, MonotonicNow() + options_.write_timeout_ns);
}

}  // namespace

absl::StatusOr<int32_t> ParsePort(std::string_view text) {
  std::optional<uint64_t> v = ParseUint64(text);
  if (!v || *v < 1 || *v > 65535) {
    return absl::InvalidArgumentError(StrCat("invalid port \"", text, "\": want a number in 1-65535"));
  }
  return static_cast<int32_t>(*v);
}

void ServeSpdyPortForward(Conn& conn, const PortForwardParams& params, StreamingRuntime& runtime,
                          const SessionOptions& options) {
  SpdyPortForward session(conn, params, runtime, options);
  session.Run();
}

void ServeWebSocketPortForward(Conn& conn, const PortForwardParams& params, const std::vector<int32_t>& ports,
                               StreamingRuntime& runtime, const SessionOptions& options) {
  WebSocketPortForward session(conn, params, ports, runtime, options);
  session.Run();
}

}  // namespace cricket::streaming
