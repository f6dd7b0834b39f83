// What follows a valid token: the protocol upgrade, then the session.
#include <algorithm>
#include <functional>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/http_request.h"
#include "server/streaming/port_forward.h"
#include "server/streaming/upgrade.h"
#include "server/streaming/websocket.h"

namespace cricket::streaming {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// kubelet's DefaultConfig: SupportedRemoteCommandProtocols and SupportedPortForwardProtocols.
const std::vector<std::string>& SpdyProtocols(bool port_forward) {
  static const std::vector<std::string> command = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                                   "v2.channel.k8s.io", "channel.k8s.io"};
  static const std::vector<std::string> forward = {"portforward.k8s.io"};
  return port_forward ? forward : command;
}

CommandProtocol SpdyCommandProtocol(std::string_view p) {
  if (p == "v4.channel.k8s.io") return CommandProtocol::kV4;
  if (p == "v3.channel.k8s.io") return CommandProtocol::kV3;
  if (p == "v2.channel.k8s.io") return CommandProtocol::kV2;
  return CommandProtocol::kV1;
}

struct WsChoice {
  std::string protocol;  // as echoed in Sec-WebSocket-Protocol ("" when the client offered none)
  CommandProtocol command = CommandProtocol::kV1;
  bool base64 = false;
  bool spdy_tunnel = false;
};

// The first protocol the client offers that the server supports (wsstream's handshake order); a client
// that offers none gets the unversioned binary protocol.
std::optional<WsChoice> ChooseWebSocketProtocol(const std::vector<std::string>& offered, bool port_forward) {
  if (offered.empty()) return WsChoice{};
  for (const std::string& p : offered) {
    if (port_forward) {
      if (p == "SPDY/3.1+portforward.k8s.io") return WsChoice{p, CommandProtocol::kV1, false, true};
      if (p == "portforward.k8s.io" || p == "v4.channel.k8s.io") return WsChoice{p};
    } else {
      if (p == "v5.channel.k8s.io") return WsChoice{p, CommandProtocol::kV5, false, false};
      if (p == "v4.channel.k8s.io") return WsChoice{p, CommandProtocol::kV4, false, false};
      if (p == "v4.base64.channel.k8s.io") return WsChoice{p, CommandProtocol::kV4, true, false};
      if (p == "channel.k8s.io") return WsChoice{p, CommandProtocol::kV1, false, false};
      if (p == "base64.channel.k8s.io") return WsChoice{p, CommandProtocol::kV1, true, false};
    }
  }
  return std::nullopt;
}

// The plain WebSocket port-forward carries its ports in the CRI request, or else in "port" query values
// (comma lists allowed), as kubelet's NewV4Options reads them.
absl::StatusOr<std::vector<int32_t>> WebSocketPorts(const PortForwardParams& params, const HttpRequest& req) {
  if (!params.ports.empty()) return params.ports;
  std::vector<int32_t> ports;
  for (const std::string& value : req.QueryValues("port")) {
    for (std::string_view part : Split(value, ',')) {
      ASSIGN_OR_RETURN(int32_t port, ParsePort(part));
      ports.push_back(port);
    }
  }
  if (ports.empty()) return absl::InvalidArgumentError("query parameter \"port\" is required");
  return ports;
}

using Reply = std::function<void(int, const Headers&, std::string_view)>;

// WebSocket (RFC 6455 §4.2) with Kubernetes' channel subprotocols, or the SPDY tunnel for port-forward.
void UpgradeWebSocket(Conn& conn, const HttpRequest& req, std::string_view kind, const CachedRequest& cached,
                      StreamingRuntime& runtime, const SessionOptions& session_options, int64_t deadline,
                      const Reply& reply) {
  const bool port_forward = kind == "portforward";
  if (req.Header("sec-websocket-key").empty() || req.Header("sec-websocket-version") != "13" ||
      !req.HeaderHasToken("connection", "upgrade")) {
    return reply(400, {{"Sec-WebSocket-Version", "13"}}, "bad WebSocket handshake\n");
  }
  const std::optional<WsChoice> choice =
      ChooseWebSocketProtocol(req.HeaderList("sec-websocket-protocol"), port_forward);
  if (!choice) {
    return reply(400, {},
                 StrCat("requested protocol(s) are not supported: ",
                        Join(req.HeaderList("sec-websocket-protocol"), ", "), "\n"));
  }
  std::vector<int32_t> ws_ports;
  if (port_forward && !choice->spdy_tunnel) {
    auto ports = WebSocketPorts(std::get<PortForwardParams>(cached), req);
    absl::Status limits = ports.ok() ? CheckPortForwardPorts(*ports, session_options) : ports.status();
    if (!limits.ok()) return reply(400, {}, StrCat(ToStd(limits.message()), "\n"));
    ws_ports = *std::move(ports);
  }
  Headers h = {{"Upgrade", "websocket"},
               {"Connection", "Upgrade"},
               {"Sec-WebSocket-Accept", ws::AcceptKey(req.Header("sec-websocket-key"))}};
  if (!choice->protocol.empty()) h.emplace_back("Sec-WebSocket-Protocol", choice->protocol);
  if (!conn.Write(HttpResponse(101, h, ""), deadline).ok()) return;
  if (port_forward && choice->spdy_tunnel) {
    // The tunnel owns nothing: wrap a non-owning view of `conn`.
    class Borrowed : public Conn {
     public:
      explicit Borrowed(Conn& c) : c_(c) {}
      int fd() const override { return c_.fd(); }
      bool HasBuffered() const override { return Conn::HasBuffered() || c_.HasBuffered(); }
      absl::Status Write(std::string_view d, int64_t dl) override { return c_.Write(d, dl); }
      void Shutdown() override { c_.Shutdown(); }
      void Finish(int64_t dl) override { c_.Finish(dl); }

     protected:
      absl::StatusOr<ReadResult> ReadSome(char* b, size_t n) override { return c_.Read(b, n); }

     private:
      Conn& c_;
    };
    std::unique_ptr<Conn> tunnel = ws::NewTunnelConn(std::make_unique<Borrowed>(conn));
    ServeSpdyPortForward(*tunnel, std::get<PortForwardParams>(cached), runtime, session_options);
    tunnel->Finish(MonotonicNow() + session_options.write_timeout_ns);
  } else if (port_forward) {
    ServeWebSocketPortForward(conn, std::get<PortForwardParams>(cached), ws_ports, runtime, session_options);
  } else {
    const CommandRequest request = kind == "exec" ? CommandRequest(std::get<ExecParams>(cached))
                                                  : CommandRequest(std::get<AttachParams>(cached));
    ServeWebSocketCommand(conn, choice->command, choice->base64, request, runtime, session_options);
  }
}

// SPDY (k8s.io/streaming httpstream.Handshake, then spdy.NewResponseUpgrader).
void UpgradeSpdy(Conn& conn, const HttpRequest& req, std::string_view kind, const CachedRequest& cached,
                 StreamingRuntime& runtime, const SessionOptions& session_options, int64_t deadline,
                 const Reply& reply) {
  const bool port_forward = kind == "portforward";
  const std::vector<std::string> offered = req.HeaderList("x-stream-protocol-version");
  if (offered.empty()) {
    return reply(400, {}, "unable to upgrade: X-Stream-Protocol-Version is required\n");
  }
  const std::vector<std::string>& supported = SpdyProtocols(port_forward);
  auto chosen = std::find_if(offered.begin(), offered.end(), [&](const std::string& p) {
    return std::find(supported.begin(), supported.end(), p) != supported.end();
  });
  if (chosen == offered.end()) {
    Headers h;
    for (const std::string& p : supported) h.emplace_back("X-Accepted-Stream-Protocol-Versions", p);
    return reply(403, h,
                 StrCat("unable to upgrade: unable to negotiate protocol: client supports [",
                        Join(offered, " "), "], server accepts [", Join(supported, " "), "]\n"));
  }
  if (!req.HeaderHasToken("connection", "upgrade") || !req.HeaderHasToken("upgrade", "spdy/3.1")) {
    return reply(400, {}, "unable to upgrade: missing upgrade headers in request\n");
  }
  const Headers h = {
      {"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", *chosen}};
  if (!conn.Write(HttpResponse(101, h, ""), deadline).ok()) return;
  if (port_forward) {
    ServeSpdyPortForward(conn, std::get<PortForwardParams>(cached), runtime, session_options);
  } else {
    const CommandRequest request = kind == "exec" ? CommandRequest(std::get<ExecParams>(cached))
                                                  : CommandRequest(std::get<AttachParams>(cached));
    ServeSpdyCommand(conn, SpdyCommandProtocol(*chosen), request, runtime, session_options);
  }
}

}  // namespace

absl::StatusOr<Route> RouteOf(const HttpRequest& req, int* error_code) {
  const std::vector<std::string_view> parts = Split(req.path, '/');
  if (parts.size() != 3 || !parts[0].empty() ||
      (parts[1] != "exec" && parts[1] != "attach" && parts[1] != "portforward") || parts[2].empty()) {
    *error_code = 404;
    return absl::NotFoundError("404 page not found");
  }
  if (req.method != "GET" && req.method != "POST") {
    *error_code = 405;
    return absl::InvalidArgumentError("method not allowed");
  }
  return Route{std::string(parts[1]), std::string(parts[2])};
}

bool KindMatches(std::string_view kind, const CachedRequest& cached) {
  return (kind == "exec" && std::holds_alternative<ExecParams>(cached)) ||
         (kind == "attach" && std::holds_alternative<AttachParams>(cached)) ||
         (kind == "portforward" && std::holds_alternative<PortForwardParams>(cached));
}

void ServeUpgrade(Conn& conn, const HttpRequest& req, std::string_view kind, const CachedRequest& cached,
                  StreamingRuntime& runtime, const SessionOptions& options) {
  const int64_t deadline = MonotonicNow() + options.write_timeout_ns;
  const Reply reply = [&](int code, const Headers& headers, std::string_view body) {
    (void)conn.Write(HttpResponse(code, headers, body), MonotonicNow() + options.write_timeout_ns);
  };
  if (req.HeaderHasToken("upgrade", "websocket")) {
    return UpgradeWebSocket(conn, req, kind, cached, runtime, options, deadline, reply);
  }
  UpgradeSpdy(conn, req, kind, cached, runtime, options, deadline, reply);
}

}  // namespace cricket::streaming
