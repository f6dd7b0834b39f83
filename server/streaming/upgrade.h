// Internal to the streaming server: what follows a valid token. Exposed for the server and fuzzing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/streaming/conn.h"
#include "server/streaming/http_request.h"
#include "server/streaming/remote_command.h"
#include "server/streaming/request_cache.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming {

// The request heads the server reads, at most.
inline constexpr size_t kMaxRequestHead = 16 * 1024;

// Where a request goes: {GET,POST} /exec/<token>, /attach/<token>, /portforward/<token>.
struct Route {
  std::string kind;  // "exec", "attach" or "portforward"
  std::string token;
};
// The route of `req`, or the HTTP error to answer (404 unknown path, 405 method).
absl::StatusOr<Route> RouteOf(const HttpRequest& req, int* error_code);
// Whether `cached` is a request of that kind (a token is valid only for its own kind).
bool KindMatches(std::string_view kind, const CachedRequest& cached);

// Answers the upgrade request of a connection whose token was valid for `cached`: the protocol
// negotiation (SPDY/3.1, or WebSocket with the Kubernetes subprotocols) and its 101, or a 400/403
// naming what was wrong; then serves the session until it ends.
void ServeUpgrade(Conn& conn, const HttpRequest& req, std::string_view kind, const CachedRequest& cached,
                  StreamingRuntime& runtime, const SessionOptions& options);

}  // namespace cricket::streaming
