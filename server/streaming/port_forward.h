// Port-forward sessions: bytes between the client and TCP connections that the runtime dials inside the
// pod's network namespace.
//  - SPDY (portforward.k8s.io; also tunnelled in WebSocket as "SPDY/3.1+portforward.k8s.io"): per
//    forwarded connection the client opens an error and a data stream carrying "port" and "requestid"
//    headers (client-go tools/portforward/portforward.go handleConnection).
//  - Plain WebSocket: one data channel (2i) and one error channel (2i+1) per requested port; the server's
//    first message on each carries the port as 2 bytes little-endian.
// Connections into the pod come from StreamingRuntime::DialPort, which must not block: the session waits
// for a connecting socket itself (SessionOptions::dial_timeout_ns), so that no dial needs a thread.
#pragma once

#include "server/streaming/conn.h"
#include "server/streaming/remote_command.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming {

void ServeSpdyPortForward(Conn& conn, const PortForwardParams& params, StreamingRuntime& runtime,
                          const SessionOptions& options);

// `ports` must be non-empty and pass CheckPortForwardPorts (the caller answers 400 otherwise).
void ServeWebSocketPortForward(Conn& conn, const PortForwardParams& params, const std::vector<int32_t>& ports,
                               StreamingRuntime& runtime, const SessionOptions& options);

// The ports of a WebSocket port-forward within the limits per connection and per port.
absl::Status CheckPortForwardPorts(const std::vector<int32_t>& ports, const SessionOptions& options);

// Parses a "port" header or query value: a decimal in 1..65535.
absl::StatusOr<int32_t> ParsePort(std::string_view text);

}  // namespace cricket::streaming
