// Exec and attach sessions ("remotecommand", k8s.io/apimachinery/pkg/util/remotecommand): the client's
// stdin/stdout/stderr/resize/error streams over SPDY (channel.k8s.io v1-v4) or WebSocket channels
// (v4/v5.channel.k8s.io), connected to a StreamingRuntime through pipes.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "server/streaming/budget.h"
#include "server/streaming/conn.h"
#include "server/streaming/runtime.h"

namespace cricket::streaming {

// Subprotocols, oldest first. The differences (client-go tools/remotecommand/v1.go … v5.go):
//   v1 channel.k8s.io     no resize; error stream carries text; the server half-closes stdin at once
//   v2 v2.channel.k8s.io  no resize; error stream carries text
//   v3 v3.channel.k8s.io  + resize stream
//   v4 v4.channel.k8s.io  + error stream carries a metav1.Status JSON with the exit code
//   v5 v5.channel.k8s.io  (WebSocket only) + CLOSE message [0xFF, channel] half-closes a channel
enum class CommandProtocol { kV1, kV2, kV3, kV4, kV5 };

struct SessionOptions {
  int64_t idle_timeout_ns = 4LL * 3600 * 1000 * 1000 * 1000;
  int64_t creation_timeout_ns = 30LL * 1000 * 1000 * 1000;
  int64_t write_timeout_ns = 60LL * 1000 * 1000 * 1000;
  // Port-forward: how long a connection into the pod may take to be established, how many such
  // connections (stream pairs, or ports of the WebSocket protocol) one client connection may have at
  // once, and how many of those may go to one port.
  int64_t dial_timeout_ns = 5LL * 1000 * 1000 * 1000;
  size_t max_port_pairs = 128;
  size_t max_pairs_per_port = 64;
  // The server-wide pool every session's buffers come from (budget.h); nullptr gives each session the
  // default per-connection cap and no shared limit (tests, fuzzing).
  BufferPool* buffers = nullptr;
};

using CommandRequest = std::variant<ExecParams, AttachParams>;

// Serves one exec/attach session on `conn`, already upgraded (101 sent), until the command ends or the
// client goes away; the backend call is cancelled in the latter case. Returns once the backend has
// returned. Errors are logged, not returned: there is nobody left to tell.
void ServeSpdyCommand(Conn& conn, CommandProtocol protocol, const CommandRequest& request,
                      StreamingRuntime& runtime, const SessionOptions& options);
// `base64`: the base64.channel.k8s.io variants (text messages, ASCII channel digit, base64 payload).
void ServeWebSocketCommand(Conn& conn, CommandProtocol protocol, bool base64, const CommandRequest& request,
                           StreamingRuntime& runtime, const SessionOptions& options);

// The v4+ error-stream body (metav1.Status JSON) for a command's outcome: Success for exit code 0,
// NonZeroExitCode with the code as an ExitCode cause, or InternalError for a backend error.
std::string CommandStatusJson(const absl::StatusOr<int>& result, const std::vector<std::string>& cmd);
// The v1-v3 error-stream body: empty on success, else the status message as text.
std::string CommandStatusText(const absl::StatusOr<int>& result, const std::vector<std::string>& cmd);

}  // namespace cricket::streaming
