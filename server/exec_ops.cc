// ExecSync: a command run to completion in a running container, its output returned.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/cri_runtime.h"

namespace cricket::server {

namespace {

constexpr size_t kMaxExecOutput = 16 << 20;  // per stream

absl::StatusOr<std::pair<UniqueFd, UniqueFd>> Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe", "exec output");
  // Only our read end is non-blocking; the exec'd process gets an ordinary pipe.
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

}  // namespace

absl::StatusOr<CriRuntime::ExecProcess> CriRuntime::StartExec(const std::string& id,
                                                              const std::vector<std::string>& cmd, bool tty,
                                                              UniqueFd in, UniqueFd out, UniqueFd err) {
  if (cmd.empty()) return absl::InvalidArgumentError("exec: cmd is empty");
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, state_.FindContainer(id));
  ContainerRecord c = container->Snapshot();
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", c.id, " is not running"));
  }
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(c.runtime_handler));
  ASSIGN_OR_RETURN(oci::Spec spec, rt->Spec(c.id));
  runtime::ExecOptions opts;
  opts.process = *spec.process;
  opts.process.args = cmd;
  opts.process.terminal = tty;
  opts.process.console_size.reset();
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return ErrnoError("open", "/dev/null");
  opts.stdio[0] = in ? in.get() : null.get();
  opts.stdio[1] = out ? out.get() : null.get();
  opts.stdio[2] = err ? err.get() : null.get();
  ASSIGN_OR_RETURN(runtime::ExecResult proc, rt->Exec(c.id, opts));
  return ExecProcess{std::move(proc.pidfd), std::move(proc.console)};
}

absl::StatusOr<CriRuntime::ExecSyncResult> CriRuntime::ExecSync(const std::string& id,
                                                                const std::vector<std::string>& cmd,
                                                                int64_t timeout_seconds) {
  ASSIGN_OR_RETURN(auto out, Pipe());
  ASSIGN_OR_RETURN(auto err, Pipe());
  ASSIGN_OR_RETURN(ExecProcess proc, StartExec(id, cmd, /*tty=*/false, UniqueFd(), std::move(out.second),
                                               std::move(err.second)));

  ExecSyncResult result;
  int64_t deadline = timeout_seconds > 0 ? MonotonicNow() + timeout_seconds * 1'000'000'000LL : 0;
  bool timed_out = false;
  struct Stream {
    int fd;
    std::string* data;
  } streams[2] = {{out.first.get(), &result.stdout_data}, {err.first.get(), &result.stderr_data}};
  int open_streams = 2;
  char buf[65536];
  while (open_streams > 0) {
    struct pollfd fds[2];
    int n = 0;
    for (const Stream& s : streams) {
      if (s.fd >= 0) fds[n++] = {s.fd, POLLIN, 0};
    }
    int wait_ms = -1;
    if (deadline > 0) {
      int64_t left = deadline - MonotonicNow();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left / 1'000'000) + 1;
    }
    int r = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (r < 0 && errno != EINTR) return ErrnoError("poll", "exec output");
    for (Stream& s : streams) {
      if (s.fd < 0) continue;
      ssize_t got = ::read(s.fd, buf, sizeof(buf));
      if (got > 0) {
        size_t room = kMaxExecOutput - std::min(kMaxExecOutput, s.data->size());
        s.data->append(buf, std::min(room, static_cast<size_t>(got)));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        s.fd = -1;
        --open_streams;
      }
    }
  }
  if (timed_out) {
    // Only the exec'd process and its process group (it is a session leader) are killed; the container
    // keeps running.
    (void)::kill(-proc.pidfd.pid(), SIGKILL);
    (void)proc.pidfd.Signal(SIGKILL);
    (void)proc.pidfd.Reap();
    return absl::DeadlineExceededError(
        StrCat("command ", Join(cmd, " "), " timed out after ", timeout_seconds, " s"));
  }
  ASSIGN_OR_RETURN(std::optional<int> status, proc.pidfd.Reap());
  result.exit_code = status ? sys::ShellExitCode(*status) : -1;
  return result;
}

}  // namespace cricket::server
