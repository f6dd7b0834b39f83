// Child side: setting up the process itself (fds, terminal, LSM labels, credentials, capabilities,
// seccomp, cwd) and exec (see init_child.h for the rules).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <termios.h>

#include "lib/runtime/child_util.h"
#include "lib/runtime/init_child.h"

namespace cricket::runtime {
namespace {

using child::Fail;
using child::FailR;

constexpr int kMaxFds = 256;

// Moves stdio and extra fds into place (0..2, then 3..), keeping `keep` fds (updated in place when they
// had to move; keep[0] is the sync socket) and closing every other descriptor.
int ArrangeFds(const ProcessPlan& plan, sys::Sys& sys, int sync_fd, int* keep, int n_keep) {
  const int n_extra = static_cast<int>(plan.extra_fds.size());
  if (n_extra + 3 + n_keep > kMaxFds) return Fail(sync_fd, EMFILE, "too many preserved fds", nullptr);
  const int first_free = 3 + n_extra;
  // Sources: stdio (0..2) then extras (3..); -1 means "leave the inherited fd".
  int src[kMaxFds];
  for (int i = 0; i < 3; ++i) src[i] = plan.terminal ? -1 : plan.stdio[i];
  for (int i = 0; i < n_extra; ++i) src[3 + i] = plan.extra_fds[static_cast<size_t>(i)];
  // Lift every source and kept fd out of the target range so no dup3 overwrites one still needed.
  auto lift = [&](int* fd) -> int {
    if (*fd < 0 || *fd >= first_free) return 0;
    int n = sys.DupFdCloexec(*fd, first_free + 16);
    if (n < 0) return n;
    *fd = n;
    return 0;
  };
  int r;
  for (int i = 0; i < n_keep; ++i) {
    if ((r = lift(&keep[i])) < 0) return FailR(sync_fd, r, "move fd", nullptr);
  }
  sync_fd = keep[0];  // by convention the sync socket is the first kept fd
  for (int i = 0; i < first_free; ++i) {
    if (src[i] >= 0 && src[i] != i && (r = lift(&src[i])) < 0) return FailR(sync_fd, r, "move fd", nullptr);
  }
  for (int i = 0; i < first_free; ++i) {
    if (src[i] < 0) continue;
    r = src[i] == i ? sys.SetCloexec(i, false) : sys.Dup3(src[i], i, 0);
    if (r < 0) return FailR(sync_fd, r, "set up stdio and preserved fds", nullptr);
  }
  // Close everything at or above first_free except the kept fds (they are close-on-exec).
  int sorted[kMaxFds];
  int n = 0;
  for (int i = 0; i < n_keep; ++i) {
    if (keep[i] >= first_free) sorted[n++] = keep[i];
  }
  for (int i = 1; i < n; ++i) {
    for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; --j) {
      int t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  }
  unsigned int from = static_cast<unsigned int>(first_free);
  for (int i = 0; i < n; ++i) {
    unsigned int k = static_cast<unsigned int>(sorted[i]);
    if (k > from) sys.CloseRange(from, k - 1, 0);
    from = k + 1;
  }
  r = sys.CloseRange(from, ~0U, 0);
  if (r < 0) return FailR(sync_fd, r, "close inherited fds", nullptr);
  return 0;
}

int SetControllingTerminal(const ProcessPlan& plan, sys::Sys& sys, int sync_fd, int slave) {
  int r;
  if (plan.console_rows != 0 || plan.console_cols != 0) {
    winsize ws{};
    ws.ws_row = plan.console_rows;
    ws.ws_col = plan.console_cols;
    sys.Ioctl(slave, TIOCSWINSZ, reinterpret_cast<unsigned long>(&ws));
  }
  if ((r = sys.Ioctl(slave, TIOCSCTTY, 0)) < 0)
    return FailR(sync_fd, r, "make the pty the controlling terminal");
  for (int i = 0; i < 3; ++i) {
    if ((r = sys.Dup3(slave, i, 0)) < 0) return FailR(sync_fd, r, "dup pty to stdio");
  }
  if (slave > 2) sys.Close(slave);
  return 0;
}

int WriteAttr(sys::Sys& sys, int sync_fd, const char* path, const char* value) {
  int fd = sys.Openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0) return FailR(sync_fd, fd, "open", path);
  long n = sys.Write(fd, value, sys::SafeStrLen(value));
  sys.Close(fd);
  if (n < 0) return FailR(sync_fd, static_cast<int>(n), "set security label via", path);
  return 0;
}

int LoadSeccomp(const ProcessPlan& plan, sys::Sys& sys) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(plan.seccomp.filter.size());
  prog.filter = const_cast<sock_filter*>(plan.seccomp.filter.data());
  return sys.SeccompSetFilter(plan.seccomp.flags, &prog);
}

int SetCredentials(const ProcessPlan& plan, sys::Sys& sys, int sync_fd) {
  int r;
  if (plan.caps) {
    // Dropping from the bounding set needs CAP_SETPCAP, so it comes before the uid changes.
    for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
      if (plan.caps->bounding & (1ULL << cap)) continue;
      r = sys.Prctl(PR_CAPBSET_DROP, static_cast<unsigned long>(cap), 0, 0, 0);
      if (r < 0 && r != -EINVAL) return FailR(sync_fd, r, "drop capability from the bounding set");
    }
    if ((r = sys.Prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) < 0) return FailR(sync_fd, r, "set keepcaps");
  }
  if (plan.set_groups) {
    r = sys.Setgroups(plan.additional_gids.size(), plan.additional_gids.data());
    if (r < 0) return FailR(sync_fd, r, "setgroups");
  }
  if ((r = sys.Setresgid(plan.gid, plan.gid, plan.gid)) < 0) return FailR(sync_fd, r, "setresgid");
  if ((r = sys.Setresuid(plan.uid, plan.uid, plan.uid)) < 0) return FailR(sync_fd, r, "setresuid");
  if (!plan.caps) return 0;
  if ((r = sys.Prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)) < 0) return FailR(sync_fd, r, "clear keepcaps");
  r = sys.Capset(plan.caps->effective, plan.caps->permitted, plan.caps->inheritable);
  if (r < 0) return FailR(sync_fd, r, "apply capabilities (capset)");
  if ((r = sys.Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) < 0 && r != -EINVAL) {
    return FailR(sync_fd, r, "clear ambient capabilities");
  }
  for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
    if (!(plan.caps->ambient & (1ULL << cap))) continue;
    r = sys.Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(cap), 0, 0);
    if (r < 0) return FailR(sync_fd, r, "raise ambient capability");
  }
  return 0;
}

// Run as root, before the seccomp filter (which may deny getcwd) and the credential change; the cwd is
// entered again as the user afterwards.
int ChdirChecked(const ProcessPlan& plan, sys::Sys& sys, int sync_fd) {
  int r = sys.Chdir(plan.cwd.c_str());
  if (r < 0) return FailR(sync_fd, r, "chdir to cwd", plan.cwd.c_str());
  // A cwd reached through a leaked host fd (CVE-2024-21626) lies outside the root: getcwd(2) then
  // returns "(unreachable)/...".
  char buf[4096];
  r = sys.Getcwd(buf, sizeof(buf));
  if (r < 0) return FailR(sync_fd, r, "getcwd after chdir to", plan.cwd.c_str());
  if (buf[0] != '/') return Fail(sync_fd, EPERM, "cwd is outside the container root:", plan.cwd.c_str());
  return 0;
}

int FindExecutable(const ProcessPlan& plan, sys::Sys& sys, int sync_fd, int* index) {
  *index = -1;
  if (plan.args.empty()) return 0;  // no process: start reports it
  int last = -ENOENT;
  for (size_t i = 0; i < plan.exec_candidates.size(); ++i) {
    const char* c = plan.exec_candidates[i].c_str();
    // stat(2) only, like a shell's PATH search: a permission problem surfaces from execve at start.
    // (An access(2)-style check would also be one more syscall that a seccomp profile loaded earlier
    // might not allow, e.g. faccessat2 in older profiles.)
    struct stat st;
    int r = sys.Fstatat(AT_FDCWD, c, &st, 0);
    if (r == 0 && (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)) r = -EACCES;
    if (r == 0) {
      *index = static_cast<int>(i);
      return 0;
    }
    if (last == -ENOENT) last = r;
  }
  const char* name = plan.args.empty() ? "" : plan.args[0].c_str();
  bool bare = true;
  for (const char* p = name; *p != '\0'; ++p) bare = bare && *p != '/';
  if (bare && last == -ENOENT) return Fail(sync_fd, ENOENT, "executable file not found in $PATH:", name);
  return FailR(sync_fd, last, "exec", name);
}

}  // namespace

int SetupProcess(const ProcessPlan& plan, sys::Sys& sys, int* sync_fd_io, bool set_credentials,
                 int console_slave, int* keep_fds, int n_keep, int* exec_index) {
  int sync_fd = *sync_fd_io;
  int keep[kMaxFds];
  int n = 0;
  keep[n++] = sync_fd;
  for (int i = 0; i < n_keep && n < kMaxFds - 1; ++i) keep[n++] = keep_fds[i];
  keep[n++] = console_slave;
  int r = ArrangeFds(plan, sys, sync_fd, keep, n);
  if (r < 0) return r;
  sync_fd = keep[0];
  *sync_fd_io = sync_fd;
  for (int i = 0; i < n_keep; ++i) keep_fds[i] = keep[i + 1];
  console_slave = keep[n - 1];
  if ((r = sys.Setsid()) < 0 && r != -EPERM) return FailR(sync_fd, r, "setsid");
  if (plan.terminal) {
    int slave = console_slave;
    if (slave < 0 && (r = child::OpenConsole(sys, sync_fd, false, &slave)) < 0) return r;
    if ((r = SetControllingTerminal(plan, sys, sync_fd, slave)) < 0) return r;
  }
  if (!plan.lsm_exec_attr_path.empty() &&
      (r = WriteAttr(sys, sync_fd, plan.lsm_exec_attr_path.c_str(), plan.lsm_exec_attr_value.c_str())) < 0) {
    return r;
  }
  if (!plan.selinux_exec_value.empty() &&
      (r = WriteAttr(sys, sync_fd, "/proc/self/attr/exec", plan.selinux_exec_value.c_str())) < 0) {
    return r;
  }
  sys.Umask(plan.umask.value_or(022));
  if ((r = ChdirChecked(plan, sys, sync_fd)) < 0) return r;
  if (plan.set_personality && (r = sys.Personality(plan.personality)) < 0)
    return FailR(sync_fd, r, "personality");
  // Without no_new_privileges the filter needs CAP_SYS_ADMIN, which the process may be about to lose:
  // load it now. With no_new_privileges it is loaded last, just before execve (ExecProcess).
  if (!plan.seccomp.filter.empty() && !plan.no_new_privileges && (r = LoadSeccomp(plan, sys)) < 0) {
    return FailR(sync_fd, r, "load seccomp filter");
  }
  if (set_credentials && (r = SetCredentials(plan, sys, sync_fd)) < 0) return r;
  if (plan.no_new_privileges && (r = sys.Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0) {
    return FailR(sync_fd, r, "set no_new_privs");
  }
  // Again as the user: the directory must be accessible to it (EACCES otherwise, as with other runtimes).
  if ((r = sys.Chdir(plan.cwd.c_str())) < 0) return FailR(sync_fd, r, "chdir to cwd", plan.cwd.c_str());
  return FindExecutable(plan, sys, sync_fd, exec_index);
}

int ExecProcess(const ProcessPlan& plan, sys::Sys& sys, int exec_index) {
  if (exec_index < 0) return -ENOEXEC;
  if (!plan.seccomp.filter.empty() && plan.no_new_privileges) {
    int r = LoadSeccomp(plan, sys);
    if (r < 0) return r;
  }
  return sys.Execve(plan.exec_candidates[static_cast<size_t>(exec_index)].c_str(), plan.argv.data(),
                    plan.envp.data());
}

}  // namespace cricket::runtime
