// cricket-conmon: the per-container monitor. See protocol.h for how it is driven and monitor.h for
// what it does once the container exists.
//
// Process model. cricketd starts it through cricket_conmon_client (a double fork in a new session, so
// it is nobody's child but init's and outlives cricketd restarts and upgrades). It makes itself a
// child subreaper, creates the container from a short-lived forked helper (create_helper.h), so the
// container's init becomes its child, reports the init's identity on the start-up fd and then only
// monitors. It never deletes the container: cricketd does that (Runtime::Delete) on RemoveContainer.
//
// If cricket-conmon itself is killed (SIGKILL, OOM), the container keeps running: its init is
// re-parented to the next subreaper or to PID 1; its output pipes lose their reader (further writes get
// EPIPE/SIGPIPE; a tty gets a hangup) and no exit file will be written. cricketd notices through the
// monitor's pidfd (IsMonitorAlive) and then watches the init itself through a pidfd opened against the
// identity in the start-up report; an exit seen that way has no exit status, so it is reported with
// exit code 255 and the reason that the monitor was lost.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "conmon/create_helper.h"
#include "conmon/log_writer.h"
#include "conmon/monitor.h"
#include "conmon/protocol.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/oom.h"
#include "lib/sys/resident.h"

namespace cricket::conmon {
namespace {

constexpr char kComponent[] = "conmon";

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The start-up fd named on the command line, even when the rest of it did not parse.
int FindStartupFd(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (!a.starts_with("--startup-fd=")) continue;
    auto v = ParseInt64(std::string_view(a).substr(13));
    if (v && *v >= 3 && *v < 1 << 20) return static_cast<int>(*v);
  }
  return -1;
}

absl::Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return ErrnoError("set O_NONBLOCK on", StrCat("fd ", fd));
  return absl::OkStatus();
}

absl::Status JoinCgroups(const MonitorConfig& c) {
  std::string pid = StrCat(getpid());
  for (const auto& procs : c.cgroup_procs) {
    UniqueFd fd(open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || write(fd.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) {
      return ErrnoError("join monitor cgroup through", procs);
    }
  }
  return absl::OkStatus();
}

// Becomes the monitor: own session, subreaper, SIGPIPE ignored, SIGCHLD through a signalfd.
absl::StatusOr<UniqueFd> BecomeMonitor() {
  signal(SIGPIPE, SIG_IGN);
  (void)setsid();  // EPERM when already a session leader (the client's spawn did it)
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return ErrnoError("become", "child subreaper");
  if (chdir("/") != 0) return ErrnoError("chdir", "/");
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return ErrnoError("block", "SIGCHLD");
  UniqueFd sfd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sfd) return ErrnoError("create", "signalfd");
  return sfd;
}

struct Pipe {
  UniqueFd r, w;
};
absl::StatusOr<Pipe> MakePipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoError("create", "pipe");
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

// The container's stdio: pipes (and /dev/null for stdin without --stdin); nothing with a terminal
// (the runtime makes the pty and the helper hands back its master).
absl::Status MakeStdio(const MonitorConfig& c, MonitorSetup* setup, UniqueFd theirs[3]) {
  if (c.terminal) return absl::OkStatus();
  if (c.stdin) {
    ASSIGN_OR_RETURN(Pipe in, MakePipe());
    theirs[0] = std::move(in.r);
    setup->stdin_w = std::move(in.w);
  } else {
    theirs[0].reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!theirs[0]) return ErrnoError("open", "/dev/null");
  }
  ASSIGN_OR_RETURN(Pipe out, MakePipe());
  ASSIGN_OR_RETURN(Pipe err, MakePipe());
  setup->stdout_r = std::move(out.r);
  setup->stderr_r = std::move(err.r);
  theirs[1] = std::move(out.w);
  theirs[2] = std::move(err.w);
  return absl::OkStatus();
}

void StartOomWatch(const CreateOutcome& created, MonitorSetup* setup) {
  setup->memory_dir = created.memory_dir;
  setup->cgroup_version = created.cgroup_version;
  if (created.memory_dir.empty()) return;
  auto count = cgroups::ReadOomKillCount(created.memory_dir, created.cgroup_version);
  if (count.ok()) setup->oom_kills_at_start = *count;
  auto watcher = cgroups::OomWatcher::Start(created.memory_dir, created.cgroup_version);
  if (watcher.ok()) {
    setup->oom.emplace(std::move(*watcher));
  } else {
    log::Warn(kComponent, "no OOM notifications; OOM kills are checked at exit only",
              {{"dir", created.memory_dir}, {"error", watcher.status()}});
  }
}

// Everything up to a created container. On error nothing is left behind (no socket; the runtime
// removes a container whose create failed).
absl::StatusOr<MonitorSetup> Prepare(const MonitorConfig& c) {
  MonitorSetup setup;
  setup.config = c;
  ASSIGN_OR_RETURN(setup.signal_fd, BecomeMonitor());
  RETURN_IF_ERROR(JoinCgroups(c));
  RETURN_IF_ERROR(MkdirAll(c.exits_dir, 0700));
  RETURN_IF_ERROR(MkdirAll(DirName(c.attach_socket), 0700));
  RETURN_IF_ERROR(MkdirAll(DirName(c.control_socket), 0700));
  absl::Cleanup unlink_sockets = [&c] {
    unlink(c.attach_socket.c_str());
    unlink(c.control_socket.c_str());
  };
  ASSIGN_OR_RETURN(setup.attach_listen, ListenUnixSocket(c.attach_socket, SOCK_SEQPACKET, 0600));
  ASSIGN_OR_RETURN(setup.control_listen, ListenUnixSocket(c.control_socket, SOCK_SEQPACKET, 0600));
  ASSIGN_OR_RETURN(LogWriter log, LogWriter::Open(c.log_path, c.log_size_max));
  setup.log.emplace(std::move(log));
  UniqueFd theirs[3];
  RETURN_IF_ERROR(MakeStdio(c, &setup, theirs));
  const int stdio[3] = {theirs[0].get(), theirs[1].get(), theirs[2].get()};
  ASSIGN_OR_RETURN(CreateOutcome created, CreateInHelper(c, stdio));
  for (auto& fd : theirs) fd.reset();  // the container holds them now; EOF comes when it lets go
  setup.init_pid = created.init.pid;
  setup.init_start_time = created.init.start_time;
  if (c.terminal) {
    setup.console = std::move(created.console);
    if (c.stdin) {
      setup.stdin_w.reset(fcntl(setup.console.get(), F_DUPFD_CLOEXEC, 3));
      if (!setup.stdin_w) return ErrnoError("dup", "the pty master");
    }
  }
  for (const UniqueFd* fd : {&setup.stdout_r, &setup.stderr_r, &setup.console, &setup.stdin_w}) {
    if (fd->valid()) RETURN_IF_ERROR(SetNonBlocking(fd->get()));
  }
  StartOomWatch(created, &setup);
  std::move(unlink_sockets).Cancel();
  return setup;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int startup_fd = FindStartupFd(args);
  // The start-up fd must reach EOF when conmon has reported, whatever else is running.
  if (startup_fd >= 0) fcntl(startup_fd, F_SETFD, FD_CLOEXEC);
  absl::StatusOr<MonitorConfig> config = ParseMonitorArgs(args);
  if (config.ok()) {
    auto level = log::ParseLevel(config->log_level);
    if (level.ok()) log::SetLevel(*level);
  }
  absl::StatusOr<MonitorSetup> setup =
      config.ok() ? Prepare(*config) : absl::StatusOr<MonitorSetup>(config.status());
  if (!setup.ok()) {
    log::Error(kComponent, "container not created", {{"error", setup.status()}});
    if (startup_fd >= 0) WriteAll(startup_fd, FormatStartupError(setup.status()));
    return 1;
  }
  if (startup_fd >= 0) {
    WriteAll(startup_fd, FormatStartupOk(StartupResult{setup->init_pid, setup->init_start_time}));
    close(startup_fd);
  }
  log::Info(kComponent, "container created", {{"id", setup->config.id}, {"pid", setup->init_pid}});
  setup->trim_pages = [] { sys::DropStartupPages(); };
  Monitor monitor(std::move(*setup));
  sys::DropStartupPages();
  absl::StatusOr<ExitRecord> r = monitor.Run();
  if (!r.ok()) {
    log::Error(kComponent, "monitor loop failed", {{"error", r.status()}});
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cricket::conmon

int main(int argc, char** argv) { return cricket::conmon::Main(argc, argv); }
