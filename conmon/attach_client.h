// The client side of cricket-conmon's attach socket (protocol.h), for the streaming server's Attach
// backend (server/streaming/runtime.h). RunAttachSession() pumps between the socket and plain
// descriptors, so the backend maps a StreamIo onto AttachStreams:
//
//   absl::Status Attach(const streaming::AttachParams& p, streaming::StreamIo& io) override {
//     conmon::AttachStreams s;
//     s.stdin_fd = p.stdin ? io.stdin_fd() : -1;
//     s.stdout_fd = io.stdout_fd();
//     s.stderr_fd = io.stderr_fd();
//     s.resize_fd = io.resize_fd();
//     s.next_resize = [&io]() -> std::optional<conmon::WindowSize> {
//       auto t = io.NextResize();
//       if (!t) return std::nullopt;
//       return conmon::WindowSize{t->width, t->height};
//     };
//     s.cancel_fd = io.cancel_fd();
//     return conmon::RunAttachSession(AttachSocketOf(p.container_id), s);
//   }
//
// Attach semantics (interfaces.md §2.4): the session ends when the container has exited and its
// output has been delivered (conmon closes the socket), or when cancel_fd fires (the client went
// away); both are a normal end (OK). Writing to an output descriptor whose reader has gone also ends
// it. SIGPIPE is blocked in the calling thread while it runs and never delivered to the process.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "conmon/protocol.h"
#include "lib/common/unique_fd.h"

namespace cricket::conmon {

// A connected attach session: the raw protocol, for callers that run their own loop (and tests).
class AttachConnection {
 public:
  // Connects; with `attach_stdin` announces that this session attaches stdin (stdin_once counts it).
  static absl::StatusOr<AttachConnection> Connect(const std::string& attach_socket, bool attach_stdin);

  int fd() const { return fd_.get(); }
  absl::Status SendStdin(std::string_view data);  // split into messages of at most kMaxPayload
  absl::Status CloseStdin();
  absl::Status Resize(WindowSize size);
  // Blocks up to `timeout_ms` (< 0: forever) for the next message: {kStdout|kStderr, data}. nullopt
  // on a timeout; {0xff, ""} once conmon closed the session.
  absl::StatusOr<std::optional<std::pair<uint8_t, std::string>>> Receive(int timeout_ms);

 private:
  explicit AttachConnection(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};
inline constexpr uint8_t kAttachClosed = 0xff;

struct AttachStreams {
  int stdin_fd = -1;   // read; EOF half-closes the container's stdin for this session. -1: no stdin
  int stdout_fd = -1;  // container stdout is written here; -1 drops it
  int stderr_fd = -1;  // container stderr; -1 drops it
  int resize_fd = -1;  // readable when next_resize() has a size; -1: no resizes
  std::function<std::optional<WindowSize>()> next_resize;
  int cancel_fd = -1;  // readable: end the session now
};

absl::Status RunAttachSession(const std::string& attach_socket, const AttachStreams& streams);

}  // namespace cricket::conmon
