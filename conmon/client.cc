#include "conmon/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/subprocess.h"

namespace cricket::conmon {
namespace {

constexpr int kStartupFd = 3;
constexpr size_t kMaxReport = 64 * 1024;
constexpr int kControlTimeoutSec = 10;

// Reads until EOF or the deadline; false on timeout.
absl::StatusOr<bool> ReadReport(int fd, absl::Duration timeout, std::string* out) {
  int64_t deadline = MonotonicNow() + absl::ToInt64Nanoseconds(timeout);
  char buf[4096];
  for (;;) {
    int64_t left = deadline - MonotonicNow();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(std::min<int64_t>(left / 1'000'000 + 1, 60'000)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return ErrnoError("poll", "cricket-conmon start-up pipe");
    if (rc == 0) continue;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read", "cricket-conmon start-up pipe");
    if (n == 0) return true;
    if (out->size() < kMaxReport) out->append(buf, static_cast<size_t>(n));
  }
}

absl::StatusOr<UniqueFd> OpenDiagnostics(const std::string& path) {
  if (path.empty()) return UniqueFd();
  RETURN_IF_ERROR(MkdirAll(DirName(path), 0755));
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return ErrnoError("open cricket-conmon diagnostics log", path);
  return fd;
}

// The identity of a process we hold a pidfd for, checked to be still alive after it was read.
absl::StatusOr<sys::ProcessIdentity> IdentifyLive(pid_t pid, int pidfd) {
  ASSIGN_OR_RETURN(sys::ProcessIdentity id, sys::IdentifyProcess(pid));
  pollfd p{pidfd, POLLIN, 0};
  if (poll(&p, 1, 0) != 0)
    return absl::InternalError(StrCat("cricket-conmon (pid ", pid, ") exited after start-up"));
  return id;
}

absl::Status Control(const std::string& control_socket, const std::string& request) {
  auto fd = ConnectUnixSocket(control_socket, SOCK_SEQPACKET);
  if (!fd.ok()) {
    return absl::UnavailableError(StrCat("container monitor not reachable: ", ToStd(fd.status().message())));
  }
  timeval tv{kControlTimeoutSec, 0};
  setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    return ErrnoError("send request to container monitor at", control_socket);
  }
  char reply[kMaxMessage];
  ssize_t n;
  do {
    n = recv(fd->get(), reply, sizeof(reply), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError("read reply of container monitor at", control_socket);
  if (n == 0)
    return absl::UnavailableError(StrCat("container monitor at ", control_socket, " closed the connection"));
  return DecodeControlReply(std::string_view(reply, static_cast<size_t>(n)));
}

}  // namespace

absl::StatusOr<MonitorInfo> SpawnMonitor(const MonitorOptions& options) {
  if (options.conmon_path.empty() || options.conmon_path[0] != '/') {
    return absl::InvalidArgumentError(
        StrCat("cricket-conmon path must be absolute: \"", options.conmon_path, "\""));
  }
  MonitorConfig config = options.config;
  config.startup_fd = kStartupFd;
  std::vector<std::string> args = MonitorArgs(config);
  RETURN_IF_ERROR(ParseMonitorArgs(args).status());  // the same checks conmon makes, with no process
  args.insert(args.begin(), options.conmon_path);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoError("create", "cricket-conmon start-up pipe");
  UniqueFd report_r(p[0]), report_w(p[1]);
  ASSIGN_OR_RETURN(UniqueFd diagnostics, OpenDiagnostics(options.diagnostics_log));
  sys::SpawnOptions so;
  so.stdout_fd = diagnostics.get();
  so.stderr_fd = diagnostics.get();
  so.extra_fds = {{kStartupFd, report_w.get()}};
  so.new_session = true;
  so.reparent = true;
  ASSIGN_OR_RETURN(sys::Process proc,
                   sys::SpawnProcess(sys::Command{options.conmon_path, args, options.env, ""}, so));
  report_w.reset();
  diagnostics.reset();
  std::string report;
  ASSIGN_OR_RETURN(bool complete, ReadReport(report_r.get(), options.timeout, &report));
  if (!complete) {
    (void)proc.Signal(SIGKILL);
    return absl::DeadlineExceededError(StrCat("cricket-conmon for container ", config.id,
                                              " did not report within ",
                                              absl::FormatDuration(options.timeout)));
  }
  ASSIGN_OR_RETURN(StartupResult started, ParseStartupReport(report));
  MonitorInfo info;
  ASSIGN_OR_RETURN(info.monitor, IdentifyLive(proc.pid(), proc.pidfd()));
  info.container = sys::ProcessIdentity{started.pid, started.start_time};
  return info;
}

absl::Status ReopenLog(const std::string& control_socket) {
  return Control(control_socket, EncodeMessage(kControlReopenLog));
}

absl::Status ResizeTerminal(const std::string& control_socket, WindowSize size) {
  return Control(control_socket, EncodeResize(kControlResize, size));
}

absl::Status CloseStdin(const std::string& control_socket) {
  return Control(control_socket, EncodeMessage(kControlCloseStdin));
}

absl::StatusOr<sys::PidFd> OpenMonitorPidFd(const sys::ProcessIdentity& monitor) {
  ASSIGN_OR_RETURN(sys::PidFd fd, sys::PidFd::OpenIdentity(monitor));
  if (fd.Exited()) return absl::NotFoundError(StrCat("container monitor pid ", monitor.pid, " has exited"));
  return fd;
}

bool IsMonitorAlive(const sys::ProcessIdentity& monitor) { return OpenMonitorPidFd(monitor).ok(); }

}  // namespace cricket::conmon
