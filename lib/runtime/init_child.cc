#include "lib/runtime/init_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/runtime/child_util.h"
#include "lib/sys/clone.h"

namespace cricket::runtime {
namespace {

using child::FailR;

// Blocks until `start` connects and sends 'S'; returns the connection (close-on-exec) or -errno.
int WaitForStart(int listen_fd) {
  for (;;) {
    int conn = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return -errno;
    }
    char c = 0;
    long n;
    do {
      n = ::read(conn, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1 && c == 'S') return conn;
    ::close(conn);
  }
}

// Writes "<what> <object>: <errno>" to the start connection (after the sync socket is closed).
void ReportOnConn(int conn, int err, const char* what, const char* object) {
  char buf[1024] = "";
  sys::SafeAppend(buf, sizeof(buf), what);
  if (object != nullptr) {
    sys::SafeAppend(buf, sizeof(buf), " ");
    sys::SafeAppend(buf, sizeof(buf), object);
  }
  sys::SafeAppend(buf, sizeof(buf), ": errno ");
  size_t n = sys::SafeAppendInt(buf, sizeof(buf), err);
  (void)!::write(conn, buf, n);
}

int BecomeRootInUserNs(const InitPlan& plan, sys::Sys& sys, int sync_fd) {
  int r;
  // Until now the process runs with the host's ids, unmapped in the new (or joined) namespace: files it
  // created would fail with EOVERFLOW. Root of the namespace keeps its capabilities.
  if ((r = sys.Setresgid(0, 0, 0)) < 0) return FailR(sync_fd, r, "setresgid to root of the user namespace");
  if ((r = sys.Setresuid(0, 0, 0)) < 0) return FailR(sync_fd, r, "setresuid to root of the user namespace");
  if (plan.process.set_groups && (r = sys.Setgroups(0, nullptr)) < 0) {
    return FailR(sync_fd, r, "clear supplementary groups");
  }
  return 0;
}

}  // namespace

int RunInit(const InitPlan& plan, sys::Sys& sys, int sync_fd, int start_listen_fd) {
  sys.Prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Not dumpable: processes in the container cannot ptrace us or open our /proc fds while we hold host
  // resources. execve restores it.
  sys.Prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  sys.Umask(0);
  int r;
  // The container's v1 cgroups first, so that everything the set-up allocates is charged to them.
  for (int fd : plan.cgroup1_tasks_fds) {
    long n = sys.Write(fd, "0", 1);
    sys.Close(fd);
    if (n < 0) {
      FailR(sync_fd, static_cast<int>(n), "join the container's cgroup");
      return kChildSetupFailed;
    }
  }
  r = SyncWaitContinue(sync_fd);
  if (r < 0) return kChildSetupFailed;
  if (plan.ns.in_user_ns() && BecomeRootInUserNs(plan, sys, sync_fd) < 0) return kChildSetupFailed;
  // Where to wait for kJoined (see the header).
  const bool join_first = plan.ns.new_cgroup_ns;
  const bool join_before_hooks = !join_first && plan.hook_point;
  if (join_first && SyncWaitFor(sync_fd, SyncType::kJoined) < 0) return kChildSetupFailed;
  if (plan.ns.new_cgroup_ns && (r = sys.Unshare(CLONE_NEWCGROUP)) < 0) {
    FailR(sync_fd, r, "create cgroup namespace");
    return kChildSetupFailed;
  }
  if (SetupRootfs(plan, sys, sync_fd, join_before_hooks) < 0) return kChildSetupFailed;
  int console_slave = -1;
  if (FinishRootfs(plan, sys, sync_fd, &console_slave) < 0) return kChildSetupFailed;
  if (!join_first && !join_before_hooks && SyncWaitFor(sync_fd, SyncType::kJoined) < 0)
    return kChildSetupFailed;
  int keep[1] = {start_listen_fd};
  int exec_index = -1;
  if (SetupProcess(plan.process, sys, &sync_fd, true, console_slave, keep, 1, &exec_index) < 0) {
    return kChildSetupFailed;
  }
  start_listen_fd = keep[0];
  sys.Prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (SyncSend(sync_fd, SyncType::kReady) < 0) return kChildSetupFailed;
  sys.Close(sync_fd);
  int conn = WaitForStart(start_listen_fd);
  if (conn < 0) return kChildSetupFailed;
  sys.Close(start_listen_fd);
  if (exec_index < 0) {
    ReportOnConn(conn, EINVAL, "config.json has no process to start", nullptr);
    return kChildExecFailed;
  }
  r = ExecProcess(plan.process, sys, exec_index);
  ReportOnConn(conn, -r, "exec", plan.process.exec_candidates[static_cast<size_t>(exec_index)].c_str());
  return kChildExecFailed;
}

int RunIntermediate(const InitPlan& plan, sys::Sys& sys, int sync_fd, int start_listen_fd) {
  sys.Prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sys.Prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int r;
  for (const NamespaceJoin& j : plan.ns.joins) {
    if ((r = sys.Setns(j.fd, j.nstype)) < 0) {
      FailR(sync_fd, r, "join namespace", j.path.c_str());
      return kChildSetupFailed;
    }
  }
  uint64_t flags = plan.ns.clone_flags;
  if (!plan.ns.time_offsets.empty()) {
    // Offsets can only be written before any process enters the namespace: unshare (which places
    // only future children in it), write them, then clone the init into it.
    if ((r = sys.Unshare(CLONE_NEWTIME)) < 0) {
      FailR(sync_fd, r, "create time namespace");
      return kChildSetupFailed;
    }
    int fd = sys.Openat(AT_FDCWD, "/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC, 0);
    long n = fd < 0 ? fd : sys.Write(fd, plan.ns.time_offsets.data(), plan.ns.time_offsets.size());
    if (fd >= 0) sys.Close(fd);
    if (n < 0) {
      FailR(sync_fd, static_cast<int>(n), "write time namespace offsets");
      return kChildSetupFailed;
    }
    flags &= ~static_cast<uint64_t>(CLONE_NEWTIME);
  }
  int pidfd = -1;
  long pid = sys::Clone3(sys::CloneArgs{.flags = flags | CLONE_PARENT, .cgroup_fd = plan.cgroup2_fd}, &pidfd);
  if (pid < 0) {
    FailR(sync_fd, static_cast<int>(pid), "clone container init");
    return kChildSetupFailed;
  }
  if (pid == 0) return RunInit(plan, sys, sync_fd, start_listen_fd);
  SyncSend(sync_fd, SyncType::kStage2, 0, nullptr, nullptr, pidfd);
  return 0;
}

int RunExecStage1(const ExecPlan& plan, sys::Sys& sys, int sync_fd) {
  sys.Prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sys.Prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int r;
  if (plan.ns_flags != 0 && (r = sys.Setns(plan.init_pidfd, static_cast<int>(plan.ns_flags))) < 0) {
    FailR(sync_fd, r, "join the container's namespaces");
    return kChildSetupFailed;
  }
  int pidfd = -1;
  long pid = sys::Clone3(sys::CloneArgs{.flags = CLONE_PARENT}, &pidfd);
  if (pid < 0) {
    FailR(sync_fd, static_cast<int>(pid), "clone the exec process");
    return kChildSetupFailed;
  }
  if (pid == 0) return RunExecProcess(plan, sys, sync_fd);
  SyncSend(sync_fd, SyncType::kStage2, 0, nullptr, nullptr, pidfd);
  return 0;
}

int RunExecProcess(const ExecPlan& plan, sys::Sys& sys, int sync_fd) {
  sys.Prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sys.Prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (SyncWaitContinue(sync_fd) < 0) return kChildSetupFailed;
  int exec_index = -1;
  if (SetupProcess(plan.process, sys, &sync_fd, plan.set_credentials, -1, nullptr, 0, &exec_index) < 0) {
    return kChildSetupFailed;
  }
  sys.Prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  int r = ExecProcess(plan.process, sys, exec_index);
  FailR(sync_fd, r, "exec", plan.process.exec_candidates[static_cast<size_t>(exec_index)].c_str());
  return kChildExecFailed;
}

}  // namespace cricket::runtime
