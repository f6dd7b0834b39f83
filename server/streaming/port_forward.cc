#include "server/streaming/port_forward.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/counted_warning.h"
#include "server/streaming/spdy_session.h"
#include "server/streaming/websocket.h"

namespace cricket::streaming {
namespace {

constexpr std::string_view kLog = "streaming";
// Bytes read at once from the client or from a pod connection; the connection's budget must have room
// for this much more before each read.
constexpr size_t kChunk = 32 * 1024;
// Without room in the budget, how often to look again (other connections may give some back).
constexpr int kBudgetRetryMs = 100;

// One TCP connection into the pod, from the runtime's dial until both directions are done, and the
// client bytes on their way to it.
struct Target {
  UniqueFd fd;
  bool connecting = false;  // the runtime's socket may still be connecting: wait for it to be writable
  int64_t connect_deadline = 0;
  std::string outbox;
  bool client_done = false;  // the client sent FIN: shut our write side once the outbox is empty
  bool write_shut = false;
  bool eof = false;  // the pod side closed (or failed)

  void Begin(UniqueFd socket, int64_t deadline) {
    fd = std::move(socket);
    connecting = true;
    connect_deadline = deadline;
  }

  // Called when the socket became writable or failed: the outcome of its connect.
  absl::Status FinishConnect(int32_t port) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return ErrnoError(err, "connect to", StrCat("127.0.0.1:", port));
    connecting = false;
    return absl::OkStatus();
  }

  // Writes what it can; false when the connection broke.
  bool Drain() {
    while (fd && !connecting && !outbox.empty()) {
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
    if (fd && !connecting && outbox.empty() && client_done && !write_shut) {
      shutdown(fd.get(), SHUT_WR);
      write_shut = true;
    }
    return true;
  }

  // Reads one chunk; appends to *out; sets eof when the pod closed.
  void Read(std::string* out) {
    char buf[kChunk];
    while (fd && !connecting && !eof) {
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
      return;
    }
  }

  // `room`: the budget has room for one more chunk from the pod.
  short PollEvents(bool room) const {
    if (!fd) return 0;
    if (connecting) return POLLOUT;
    short ev = 0;
    if (!eof && room) ev |= POLLIN;
    if (!outbox.empty()) ev |= POLLOUT;
    return ev;
  }
};

std::string ForwardError(int32_t port, const std::string& sandbox_id, const absl::Status& error) {
  return StrCat("error forwarding port ", port, " to pod ", sandbox_id, ", uid : ", ToStd(error.message()));
}

// A poll timeout in ms: the idle deadline, shortened to `cap_ms` when given (>= 0).
int Timeout(int64_t deadline, int cap_ms) {
  const int t = PollTimeoutMs(deadline);
  if (cap_ms < 0) return t;
  return t < 0 ? cap_ms : std::min(t, cap_ms);
}

// ---------------------------------------------------------------------------------------------------
// SPDY: kubelet's portforward/httpstream.go protocol.

class SpdyPortForward : private spdy::Session::Handler {
 public:
  SpdyPortForward(Conn& conn, const PortForwardParams& params, StreamingRuntime& runtime,
                  const SessionOptions& options)
      : conn_(conn), params_(params), runtime_(runtime), options_(options), budget_(options.buffers) {}

  void Run();

 private:
  struct Pair {
    std::string request_id;
    int32_t port = 0;
    uint32_t error_id = 0, data_id = 0;
    int64_t created = 0;
    Target target;
  };

  void OnStream(uint32_t id, const spdy::HeaderList& headers, bool fin) override;
  void OnData(uint32_t id, std::string_view data, bool fin) override;
  void OnReset(uint32_t id) override;
  void OnGoAway() override { peer_gone_ = true; }

  // Ends a pair: optional error text on its error stream, FIN on both streams, pod connection closed.
  void ClosePair(const std::string& request_id, std::string_view error);
  void Dial(Pair& pair);
  void ServiceTargets(const std::vector<pollfd>& fds, const std::vector<std::string>& ids, size_t first);
  void ExpireIncompletePairs();
  size_t Buffered() const;
  bool RoomFor(size_t more);
  absl::Status Flush() {
    if (!session_.HasOutput()) return absl::OkStatus();
    return conn_.Write(session_.TakeOutput(), MonotonicNow() + options_.write_timeout_ns);
  }

  Conn& conn_;
  const PortForwardParams& params_;
  StreamingRuntime& runtime_;
  SessionOptions options_;
  BufferBudget budget_;
  spdy::Session session_;
  std::map<std::string, Pair> pairs_;
  std::map<int32_t, size_t> pairs_per_port_;
  std::map<uint32_t, std::string> streams_;  // stream id → request id
  CountedWarning refusals_{"refusing port-forward stream"};
  CountedWarning dial_failures_{"port-forward dial failed"};
  bool peer_gone_ = false;
  int64_t last_activity_ = MonotonicNow();
};

size_t SpdyPortForward::Buffered() const {
  size_t n = session_.output_size() + session_.input_buffered();
  for (const auto& [id, pair] : pairs_) n += pair.target.outbox.size();
  return n;
}

bool SpdyPortForward::RoomFor(size_t more) {
  if (budget_.Fit(Buffered() + more)) return true;
  budget_.Fit(Buffered());
  return false;
}

void SpdyPortForward::OnStream(uint32_t id, const spdy::HeaderList& headers, bool) {
  // kubelet's httpStreamReceived: a valid port header and stream type, or the stream is refused.
  const std::string_view type = spdy::FindHeader(headers, "streamtype");
  absl::StatusOr<int32_t> port = ParsePort(spdy::FindHeader(headers, "port"));
  if (!port.ok() || (type != "error" && type != "data")) {
    refusals_.Add(
        {{"stream", type}, {"reason", port.ok() ? "unknown stream type" : ToStd(port.status().message())}});
    session_.Reset(id, spdy::RstStatus::kRefusedStream);
    return;
  }
  std::string request_id(spdy::FindHeader(headers, "requestid"));
  if (request_id.empty()) {
    // Clients before requestID: the error stream's id names the pair and its data stream comes next
    // (id + 2), as kubelet's httpStreamHandler.requestID assumes.
    request_id = StrCat(type == "error" ? id : id - 2);
  }
  auto it = pairs_.find(request_id);
  if (it == pairs_.end()) {
    // A new pair: a connection into the pod, within the limits per client connection and per port.
    if (pairs_.size() >= options_.max_port_pairs) {
      refusals_.Add(
          {{"stream", type},
           {"reason", StrCat("more than ", options_.max_port_pairs, " forwarded connections at once")}});
      session_.Reset(id, spdy::RstStatus::kRefusedStream);
      return;
    }
    if (pairs_per_port_[*port] >= options_.max_pairs_per_port) {
      refusals_.Add({{"stream", type},
                     {"reason", StrCat("more than ", options_.max_pairs_per_port,
                                       " forwarded connections to port ", *port)}});
      session_.Reset(id, spdy::RstStatus::kRefusedStream);
      return;
    }
  }
  if (!session_.Reply(id).ok()) {
    session_.Reset(id, spdy::RstStatus::kInternalError);
    return;
  }
  if (it == pairs_.end()) {
    it = pairs_.emplace(request_id, Pair{}).first;
    it->second.request_id = request_id;
    it->second.created = MonotonicNow();
    it->second.port = *port;
    ++pairs_per_port_[*port];
  }
  Pair& pair = it->second;
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
  if (pair.error_id != 0 && pair.data_id != 0) Dial(pair);
}

// The runtime returns at once with a socket that is connected or still connecting; the loop waits for it.
void SpdyPortForward::Dial(Pair& pair) {
  absl::StatusOr<UniqueFd> fd = runtime_.DialPort(params_.sandbox_id, pair.port);
  if (!fd.ok()) {
    const std::string msg = ForwardError(pair.port, params_.sandbox_id, fd.status());
    dial_failures_.Add({{"error", msg}});
    ClosePair(pair.request_id, msg);
    return;
  }
  pair.target.Begin(*std::move(fd), MonotonicNow() + options_.dial_timeout_ns);
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
  if (--pairs_per_port_[pair.port] == 0) pairs_per_port_.erase(pair.port);
  pairs_.erase(it);
}

void SpdyPortForward::ExpireIncompletePairs() {
  const int64_t now = MonotonicNow();
  std::vector<std::pair<std::string, std::string>> expired;
  for (auto& [id, pair] : pairs_) {
    if ((pair.error_id == 0 || pair.data_id == 0) && now - pair.created > options_.creation_timeout_ns) {
      expired.emplace_back(id, StrCat("timed out waiting for streams of request ", id));
    } else if (pair.target.connecting && now >= pair.target.connect_deadline) {
      expired.emplace_back(id, ForwardError(pair.port, params_.sandbox_id,
                                            absl::DeadlineExceededError(
                                                StrCat("connect to 127.0.0.1:", pair.port, ": timed out"))));
    }
  }
  for (const auto& [id, why] : expired) ClosePair(id, why);
}

void SpdyPortForward::ServiceTargets(const std::vector<pollfd>& fds, const std::vector<std::string>& ids,
                                     size_t first) {
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = pairs_.find(ids[i]);
    if (it == pairs_.end() || fds[first + i].revents == 0) continue;
    Pair& pair = it->second;
    if (pair.target.connecting) {
      if (absl::Status s = pair.target.FinishConnect(pair.port); !s.ok()) {
        ClosePair(ids[i], ForwardError(pair.port, params_.sandbox_id, s));
        continue;
      }
    }
    if (!pair.target.Drain()) pair.target.eof = true;
    std::string data;
    const bool was_eof = pair.target.eof;
    if (RoomFor(kChunk)) pair.target.Read(&data);
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
    // The client is read only while the budget has room: a pod that does not read stops the client.
    const bool room = RoomFor(kChunk);
    std::vector<pollfd> fds;
    std::vector<std::string> ids;
    fds.push_back({conn_.fd(), ClientEvents(room), 0});
    for (auto& [id, pair] : pairs_) {
      const short ev = pair.target.PollEvents(room);
      if (ev == 0) continue;
      fds.push_back({pair.target.fd.get(), ev, 0});
      ids.push_back(id);
    }
    // Pairs waiting for their streams or their connect are checked at least every second.
    int timeout = Timeout(idle_deadline, pairs_.empty() ? -1 : 1000);
    if (!room) timeout = std::min(timeout < 0 ? kBudgetRetryMs : timeout, kBudgetRetryMs);
    if (room && conn_.HasBuffered()) timeout = 0;
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (!room && ClientHungUp(fds[0].revents)) break;  // the client left while it was not read
    if (room && (fds[0].revents != 0 || conn_.HasBuffered())) {
      absl::StatusOr<ReadResult> r = conn_.Read(buf, sizeof(buf));
      if (!r.ok() || r->eof) break;
      if (r->n > 0) {
        last_activity_ = MonotonicNow();
        if (absl::Status s = session_.Feed(std::string_view(buf, r->n), *this); !s.ok()) {
          log::Warn(kLog, "port-forward protocol error", {{"error", s}});
          break;
        }
        for (auto& [id, pair] : pairs_) {
          if (!pair.target.Drain()) pair.target.eof = true;
        }
      }
    }
    ServiceTargets(fds, ids, 1);
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
        budget_(options.buffers),
        targets_(ports.size()),
        finished_(ports.size(), false) {}

  void Run();

 private:
  void Send(size_t channel, std::string_view data) {
    std::string body(1, static_cast<char>(channel));
    body.append(data);
    out_ += ws::EncodeFrame(ws::kBinary, body);
  }
  void Finish(size_t i, std::string_view error) {
    if (finished_[i]) return;
    if (!error.empty()) Send(2 * i + 1, error);
    finished_[i] = true;
    targets_[i].fd.reset();
    --remaining_;
  }
  absl::Status Feed(std::string_view bytes);
  void ServiceTarget(size_t i, short revents);
  size_t Buffered() const;
  bool RoomFor(size_t more);

  Conn& conn_;
  const PortForwardParams& params_;
  const std::vector<int32_t>& ports_;
  StreamingRuntime& runtime_;
  SessionOptions options_;
  BufferBudget budget_;
  std::vector<Target> targets_;
  std::vector<bool> finished_;
  size_t remaining_ = 0;
  ws::MessageReader reader_;
  int channel_ = -1;  // of the message being received; -1 until its first byte
  std::string out_;
  bool peer_gone_ = false;
  int64_t last_activity_ = MonotonicNow();
};

size_t WebSocketPortForward::Buffered() const {
  size_t n = out_.size() + reader_.buffered();
  for (const Target& t : targets_) n += t.outbox.size();
  return n;
}

bool WebSocketPortForward::RoomFor(size_t more) {
  if (budget_.Fit(Buffered() + more)) return true;
  budget_.Fit(Buffered());
  return false;
}

// Messages arrive in pieces; the first byte of each names its channel. Only data channels (even) carry
// client bytes; anything else is ignored like kubelet does.
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
    } else if (m->opcode == ws::kBinary) {
      std::string_view data = m->payload;
      if (m->first) channel_ = -1;
      if (channel_ < 0 && !data.empty()) {
        channel_ = static_cast<uint8_t>(data[0]);
        data.remove_prefix(1);
      }
      const size_t i = static_cast<size_t>(channel_) / 2;
      if (channel_ >= 0 && channel_ % 2 == 0 && i < targets_.size() && !finished_[i] && !data.empty()) {
        targets_[i].outbox.append(data);
      }
    }
  }
}

void WebSocketPortForward::ServiceTarget(size_t i, short revents) {
  Target& t = targets_[i];
  if (t.connecting) {
    if (revents == 0 && MonotonicNow() < t.connect_deadline) return;
    absl::Status s =
        revents == 0 ? absl::DeadlineExceededError(StrCat("connect to 127.0.0.1:", ports_[i], ": timed out"))
                     : t.FinishConnect(ports_[i]);
    if (!s.ok()) return Finish(i, ForwardError(ports_[i], params_.sandbox_id, s));
  }
  if (revents == 0 && t.outbox.empty()) return;
  if (!t.Drain()) t.eof = true;
  std::string data;
  if (RoomFor(kChunk)) t.Read(&data);
  if (!data.empty()) {
    last_activity_ = MonotonicNow();
    Send(2 * i, data);
  }
  if (t.eof) Finish(i, "");
}

void WebSocketPortForward::Run() {
  remaining_ = ports_.size();
  for (size_t i = 0; i < ports_.size(); ++i) {
    const char port_le[2] = {static_cast<char>(ports_[i] & 0xff), static_cast<char>((ports_[i] >> 8) & 0xff)};
    Send(2 * i, std::string_view(port_le, 2));
    Send(2 * i + 1, std::string_view(port_le, 2));
    absl::StatusOr<UniqueFd> fd = runtime_.DialPort(params_.sandbox_id, ports_[i]);
    if (fd.ok()) {
      targets_[i].Begin(*std::move(fd), MonotonicNow() + options_.dial_timeout_ns);
    } else {
      Finish(i, ForwardError(ports_[i], params_.sandbox_id, fd.status()));
    }
  }
  char buf[kChunk];
  while (remaining_ > 0 && !peer_gone_) {
    if (!out_.empty() &&
        !conn_.Write(std::exchange(out_, {}), MonotonicNow() + options_.write_timeout_ns).ok()) {
      return;
    }
    const int64_t idle_deadline = last_activity_ + options_.idle_timeout_ns;
    if (MonotonicNow() >= idle_deadline) break;
    const bool room = RoomFor(kChunk);
    std::vector<pollfd> fds = {{conn_.fd(), ClientEvents(room), 0}};
    std::vector<size_t> idx;
    bool connecting = false;
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (finished_[i]) continue;
      connecting = connecting || targets_[i].connecting;
      const short ev = targets_[i].PollEvents(room);
      if (ev == 0) continue;
      fds.push_back({targets_[i].fd.get(), ev, 0});
      idx.push_back(i);
    }
    int timeout = Timeout(idle_deadline, connecting ? 1000 : -1);
    if (!room) timeout = std::min(timeout < 0 ? kBudgetRetryMs : timeout, kBudgetRetryMs);
    if (room && conn_.HasBuffered()) timeout = 0;
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (!room && ClientHungUp(fds[0].revents)) return;  // the client left while it was not read
    if (room && (fds[0].revents != 0 || conn_.HasBuffered())) {
      absl::StatusOr<ReadResult> r = conn_.Read(buf, sizeof(buf));
      if (!r.ok() || r->eof) return;
      if (r->n > 0) {
        last_activity_ = MonotonicNow();
        if (!Feed(std::string_view(buf, r->n)).ok()) break;
      }
    }
    std::vector<short> revents(targets_.size(), 0);
    for (size_t k = 0; k < idx.size(); ++k) revents[idx[k]] = fds[1 + k].revents;
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (!finished_[i]) ServiceTarget(i, revents[i]);
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

absl::Status CheckPortForwardPorts(const std::vector<int32_t>& ports, const SessionOptions& options) {
  if (ports.size() > options.max_port_pairs) {
    return absl::InvalidArgumentError(
        StrCat(ports.size(), " ports requested; at most ", options.max_port_pairs, " are forwarded at once"));
  }
  std::map<int32_t, size_t> per_port;
  for (int32_t port : ports) {
    if (++per_port[port] > options.max_pairs_per_port) {
      return absl::InvalidArgumentError(
          StrCat("port ", port, " requested more than ", options.max_pairs_per_port, " times"));
    }
  }
  return absl::OkStatus();
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
