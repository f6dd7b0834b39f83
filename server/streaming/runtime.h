// What the streaming server needs from the container runtime: the backend interface that the pods code
// implements (exec in a container, attach to its main process, dial a port in the pod's network
// namespace), and the plumbing handed to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::streaming {

// The streaming-relevant part of CRI ExecRequest / AttachRequest / PortForwardRequest
// (https://github.com/kubernetes/cri-api/blob/master/pkg/apis/runtime/v1/api.proto).
struct ExecParams {
  std::string container_id;
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

struct AttachParams {
  std::string container_id;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

struct PortForwardParams {
  std::string sandbox_id;
  // Only the plain WebSocket port-forward protocol uses these (one data/error channel pair per port);
  // SPDY clients name the port per stream.
  std::vector<int32_t> ports;
};

struct TerminalSize {
  uint16_t width = 0;
  uint16_t height = 0;
  bool operator==(const TerminalSize&) const = default;
};

// The process side of one exec or attach session. Every descriptor is owned by the StreamIo and closed
// when the session ends; Take*() hands one over (e.g. to become a child's stdio) so that the child's
// exit, not the backend, closes it.
//
// Data flows through pipes:
//  - stdin_fd():  read end; the client's stdin bytes, EOF when the client half-closes stdin.
//  - stdout_fd(), stderr_fd(): write ends; what is written reaches the client. With a tty there is no
//    stderr (the terminal merges both).
//  - resize_fd(): readable when terminal size events are pending; NextResize() pops one.
//  - cancel_fd(): an eventfd that becomes readable when the client went away, the idle timeout hit or
//    the server is stopping. The backend must then end the process (kill it) and return promptly.
// A descriptor is -1 when that stream was not requested.
class StreamIo {
 public:
  virtual ~StreamIo() = default;

  virtual bool tty() const = 0;
  virtual int stdin_fd() const = 0;
  virtual int stdout_fd() const = 0;
  virtual int stderr_fd() const = 0;
  virtual UniqueFd TakeStdin() = 0;
  virtual UniqueFd TakeStdout() = 0;
  virtual UniqueFd TakeStderr() = 0;

  virtual int resize_fd() const = 0;
  // Non-blocking: the next pending terminal size, or nullopt.
  virtual std::optional<TerminalSize> NextResize() = 0;

  virtual int cancel_fd() const = 0;
  virtual bool cancelled() const = 0;
};

// Implemented by the runtime (the pods code) and by test fakes. Calls arrive on worker threads, several
// at once; each blocks for the life of its session.
class StreamingRuntime {
 public:
  virtual ~StreamingRuntime() = default;

  // Runs params.cmd in the container and returns its exit code (0-255; a signal death is reported as
  // 128+signal) once it has exited and all of its output has been written to `io`. Returns an error when
  // the command could not be started; the client then sees an InternalError status.
  virtual absl::StatusOr<int> Exec(const ExecParams& params, StreamIo& io) = 0;

  // Connects `io` to the main process's stdio until the process exits or `io` is cancelled (the client
  // detached). OK means a normal end of the attach session.
  virtual absl::Status Attach(const AttachParams& params, StreamIo& io) = 0;

  // Opens a TCP connection to localhost:`port` inside the sandbox's network namespace and returns the
  // socket at once, connected or still connecting (a non-blocking connect in progress): the server
  // waits for it to become writable (a few seconds at most) and reads SO_ERROR, so that no dial ever
  // holds a thread. The server copies bytes both ways and closes it. Errors: the sandbox is not there
  // or not ready, the socket could not be made, the connect failed at once (e.g. refused).
  virtual absl::StatusOr<UniqueFd> DialPort(const std::string& sandbox_id, int32_t port) = 0;
};

}  // namespace cricket::streaming
