#include "server/streaming_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conmon/attach_client.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/namespace_pin.h"
#include "server/streaming/terminal_pump.h"

namespace cricket::server {

absl::StatusOr<int> StreamingBackend::Exec(const streaming::ExecParams& params, streaming::StreamIo& io) {
  // With a tty the process talks to the console and PumpTerminal copies between it and the client's
  // streams, which therefore stay with `io`; without one the process gets the stream pipes themselves.
  UniqueFd in, out, err;
  if (!params.tty) {
    in = io.TakeStdin();
    out = io.TakeStdout();
    err = io.TakeStderr();
  }
  ASSIGN_OR_RETURN(CriRuntime::ExecProcess proc,
                   runtime_.StartExec(params.container_id, params.cmd, params.tty, std::move(in),
                                      std::move(out), std::move(err)));
  int wstatus = 0;
  if (params.tty) {
    wstatus = streaming::PumpTerminal(proc.console.get(), proc.pidfd.pid(), proc.pidfd.get(), io);
  } else {
    struct pollfd fds[2] = {{proc.pidfd.get(), POLLIN, 0}, {io.cancel_fd(), POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    // The client went away: the exec'd process must not outlive its session, nor must what it started.
    // It leads its own process group (lib/runtime makes every exec'd process a session leader), and the
    // group cannot be reused before the leader is reaped below.
    if (fds[1].revents != 0) {
      (void)::kill(-proc.pidfd.pid(), SIGKILL);
      (void)proc.pidfd.Signal(SIGKILL);
    }
    ASSIGN_OR_RETURN(std::optional<int> status, proc.pidfd.Reap());
    wstatus = status.value_or(0);
  }
  return sys::ShellExitCode(wstatus);
}

absl::Status StreamingBackend::Attach(const streaming::AttachParams& params, streaming::StreamIo& io) {
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, runtime_.state().FindContainer(params.container_id));
  ContainerRecord c = container->Snapshot();
  conmon::AttachStreams s;
  s.stdin_fd = params.stdin && c.config.stdin() ? io.stdin_fd() : -1;
  s.stdout_fd = io.stdout_fd();
  s.stderr_fd = io.stderr_fd();
  s.resize_fd = io.resize_fd();
  s.next_resize = [&io]() -> std::optional<conmon::WindowSize> {
    auto t = io.NextResize();
    if (!t) return std::nullopt;
    return conmon::WindowSize{t->width, t->height};
  };
  s.cancel_fd = io.cancel_fd();
  return conmon::RunAttachSession(c.attach_socket, s);
}

absl::StatusOr<UniqueFd> StreamingBackend::DialPort(const std::string& sandbox_id, int32_t port) {
  ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> sandbox, runtime_.state().FindSandbox(sandbox_id));
  SandboxRecord s = sandbox->Snapshot();
  if (s.state != SandboxState::kReady) {
    return absl::FailedPreconditionError(StrCat("pod sandbox ", s.id, " is not ready"));
  }
  if (s.netns_path.empty()) {
    // A host-network pod: its localhost is the node's.
    return sys::StartTcpConnectInNetns("/proc/self/ns/net", "127.0.0.1", port);
  }
  // The connect may still be in progress: the streaming server waits for it (StreamingRuntime::DialPort).
  return sys::StartTcpConnectInNetns(s.netns_path, "127.0.0.1", port);
}

}  // namespace cricket::server
