#include "conmon/create_helper.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_path.h"
#include "lib/runtime/cgroups/manager.h"
#include "lib/runtime/runtime.h"
#include "lib/sys/fd_passing.h"
#include "lib/sys/pidfd.h"

namespace cricket::conmon {
namespace {

// The helper's report: "ok <pid> <start time> <cgroup version> <memory dir>" (the console, if any,
// rides along as SCM_RIGHTS) or "error <code> <message>".
struct HelperReport {
  StartupResult init;
  int cgroup_version = 0;
  std::string memory_dir;
};

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_DFL);
  }
}

// Closes every descriptor from 3 up except those in `keep`.
void CloseAllExcept(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned int from = 3;
  for (int k : keep) {
    if (k < 3) continue;
    auto u = static_cast<unsigned int>(k);
    if (u > from) syscall(SYS_close_range, from, u - 1, 0);
    from = u + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0);
}

// The memory cgroup directory of container `id`, located as lib/runtime located it.
void FindMemoryCgroup(const runtime::Runtime& rt, const std::string& id, HelperReport* report) {
  const auto& layout = rt.options().cgroup_layout;
  if (!layout) return;
  const cgroups::Hierarchy* h = layout->HierarchyFor("memory");
  auto spec = rt.Spec(id);
  if (h == nullptr || !spec.ok()) return;
  auto where = cgroups::ParseCgroupsPath(
      rt.options().systemd_cgroup ? cgroups::Driver::kSystemd : cgroups::Driver::kCgroupfs,
      spec->linux ? spec->linux->cgroups_path : "", id);
  if (!where.ok()) return;
  report->memory_dir = cgroups::DirIn(*h, *where);
  report->cgroup_version = h->version;
}

absl::StatusOr<HelperReport> Create(const MonitorConfig& c, const int stdio[3], UniqueFd* console) {
  runtime::RuntimeOptions ro;
  ro.root = c.runtime_root;
  ro.systemd_cgroup = c.systemd_cgroup;
  if (!c.cgroup_layout.empty()) {
    // Read now: conmon has already joined its own cgroups (--cgroup-procs).
    ASSIGN_OR_RETURN(std::string self_cgroup, ReadFile("/proc/self/cgroup"));
    auto layout = cgroups::Layout::Deserialize(c.cgroup_layout, self_cgroup);
    if (!layout.ok()) return Annotate(layout.status(), "--cgroup-layout");
    ro.cgroup_layout = *std::move(layout);
  }
  ASSIGN_OR_RETURN(runtime::Runtime rt, runtime::Runtime::Open(std::move(ro)));
  runtime::CreateOptions co;
  co.bundle = c.bundle;
  co.no_pivot = c.no_pivot;
  for (int i = 0; i < 3; ++i) co.stdio[i] = stdio[i];
  ASSIGN_OR_RETURN(runtime::Container ctr, rt.Create(c.id, co));
  if (c.terminal && !ctr.console) {
    (void)rt.Delete(c.id, true);
    return absl::InvalidArgumentError("--terminal was given but config.json does not set process.terminal");
  }
  if (!c.terminal && ctr.console) {
    (void)rt.Delete(c.id, true);
    return absl::InvalidArgumentError("config.json sets process.terminal but --terminal was not given");
  }
  HelperReport report;
  auto identity = sys::IdentifyProcess(ctr.pid);
  if (!identity.ok()) {
    (void)rt.Delete(c.id, true);
    return Annotate(identity.status(), "identify the container init");
  }
  report.init = StartupResult{identity->pid, identity->start_time};
  FindMemoryCgroup(rt, c.id, &report);
  *console = std::move(ctr.console);
  return report;
}

void SendReport(int fd, const std::string& text, int console) {
  (void)sys::SendWithFd(fd, text.data(), text.size(), console);
}

[[noreturn]] void HelperMain(const MonitorConfig& c, const int stdio[3], int report_fd, pid_t monitor) {
  // A monitor killed mid-create (SpawnMonitor's timeout) takes the helper, and with it the init that
  // is still being set up (its own parent-death signal), along.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != monitor) _exit(1);
  ResetSignals();
  CloseAllExcept({report_fd, stdio[0], stdio[1], stdio[2]});
  UniqueFd console;
  absl::StatusOr<HelperReport> r = Create(c, stdio, &console);
  if (!r.ok()) {
    SendReport(report_fd, FormatStartupError(r.status()), -1);
    _exit(1);
  }
  SendReport(report_fd,
             StrCat("ok ", r->init.pid, " ", r->init.start_time, " ", r->cgroup_version, " ", r->memory_dir),
             console.get());
  _exit(0);
}

absl::StatusOr<CreateOutcome> ParseHelperReport(std::string_view text, UniqueFd console) {
  if (text.starts_with("error ")) {
    return ParseStartupReport(text).status();
  }
  CreateOutcome out;
  std::vector<std::string_view> parts = Split(text, ' ');
  if (parts.size() < 5 || parts[0] != "ok") {
    return absl::InternalError(StrCat("malformed report from the create helper: \"", text, "\""));
  }
  auto pid = ParseInt64(parts[1]);
  auto start = ParseUint64(parts[2]);
  auto version = ParseInt64(parts[3]);
  if (!pid || !start || !version) {
    return absl::InternalError(StrCat("malformed report from the create helper: \"", text, "\""));
  }
  out.init = StartupResult{static_cast<pid_t>(*pid), *start};
  out.cgroup_version = static_cast<int>(*version);
  size_t prefix = parts[0].size() + parts[1].size() + parts[2].size() + parts[3].size() + 4;
  out.memory_dir = std::string(text.substr(prefix));
  out.console = std::move(console);
  return out;
}

// Reads the helper's one message and the descriptor that may come with it.
absl::StatusOr<CreateOutcome> ReceiveReport(int fd) {
  char peek;
  ssize_t len;
  do {
    len = recv(fd, &peek, 1, MSG_PEEK | MSG_TRUNC);
  } while (len < 0 && errno == EINTR);
  if (len < 0) return ErrnoError("read report of", "the create helper");
  if (len == 0) return absl::InternalError("the create helper exited without reporting");
  std::string text(static_cast<size_t>(len), '\0');
  int received = -1;
  ssize_t n = sys::RecvWithFd(fd, text.data(), text.size(), &received);
  if (n < 0) return ErrnoError(static_cast<int>(-n), "read report of", "the create helper");
  UniqueFd console(received);
  text.resize(static_cast<size_t>(n));
  return ParseHelperReport(text, std::move(console));
}

}  // namespace

absl::StatusOr<CreateOutcome> CreateInHelper(const MonitorConfig& config, const int stdio[3]) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoError("create socket pair for", "the create helper");
  }
  UniqueFd mine(sv[0]), theirs(sv[1]);
  pid_t monitor = getpid();
  pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", "the create helper");
  if (pid == 0) HelperMain(config, stdio, theirs.get(), monitor);
  theirs.reset();
  absl::StatusOr<CreateOutcome> out = ReceiveReport(mine.get());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return out;
}

}  // namespace cricket::conmon
