// Internal to remote_command.cc: how stdio channels map onto SPDY streams or WebSocket channels.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/streaming/remote_command.h"

namespace cricket::streaming {

enum Channel : int { kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4 };

// What the client did, as seen by the session loop.
class CommandSink {
 public:
  virtual ~CommandSink() = default;
  virtual void OnStdin(std::string_view data) = 0;
  virtual void OnStdinClose() = 0;
  virtual void OnResize(std::string_view json_bytes) = 0;
  // The client reset an output stream: stop sending on it.
  virtual void OnOutputClosed(Channel channel) = 0;
  // The client is going away (GOAWAY, WebSocket close).
  virtual void OnPeerGone() = 0;
};

class CommandFraming {
 public:
  virtual ~CommandFraming() = default;
  // Consumes client bytes. An error is a protocol violation that ends the session.
  virtual absl::Status Feed(std::string_view bytes, CommandSink& sink) = 0;
  // All the streams the request needs exist (SPDY); always true for WebSocket.
  virtual bool Ready() const = 0;
  virtual void SendOutput(Channel channel, std::string_view data) = 0;
  // Ends the session: half-closes the output streams, writes `status_body` (may be empty) on the error
  // stream and says goodbye (GOAWAY / WebSocket close 1000).
  virtual void SendEnd(std::string_view status_body) = 0;
  virtual std::string TakeOutput() = 0;
  // Bytes held: output not yet taken and client bytes not yet passed on (partial frames).
  virtual size_t buffered() const = 0;
};

struct StreamSet {
  bool stdin = false, stdout = false, stderr = false, tty = false;
};

std::unique_ptr<CommandFraming> NewSpdyCommandFraming(CommandProtocol protocol, const StreamSet& streams);
std::unique_ptr<CommandFraming> NewWebSocketCommandFraming(CommandProtocol protocol, bool base64,
                                                           const StreamSet& streams);

}  // namespace cricket::streaming
