#include "lib/runtime/spawn.h"

#include <signal.h>
#include <unistd.h>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/clone.h"

namespace cricket::runtime {
namespace {

// Waits for the intermediate's kStage2 message carrying the pidfd of the process it cloned, then reaps
// the intermediate.
absl::StatusOr<sys::PidFd> ReceiveStage2(const sys::PidFd& intermediate, int sync, int timeout_ms) {
  auto received = SyncReceive(sync, timeout_ms);
  (void)intermediate.Reap();
  if (!received.ok()) return received.status();
  if (received->msg.type == static_cast<uint32_t>(SyncType::kError)) {
    return absl::InternalError(DescribeError(received->msg));
  }
  if (received->msg.type != static_cast<uint32_t>(SyncType::kStage2) || !received->fd) {
    return absl::InternalError("unexpected message from the intermediate process");
  }
  UniqueFd fd = std::move(received->fd);
  ASSIGN_OR_RETURN(pid_t pid, sys::PidOfPidFd(fd.get()));
  return sys::PidFd(std::move(fd), pid);
}

}  // namespace

void KillAndReap(const sys::PidFd& pidfd) {
  if (!pidfd.valid()) return;
  (void)pidfd.Signal(SIGKILL);
  (void)pidfd.Reap();
}

absl::StatusOr<SetupChild> SpawnInit(const InitPlan& plan, int start_listen_fd, int timeout_ms) {
  UniqueFd parent, child;
  RETURN_IF_ERROR(MakeSyncPair(&parent, &child));
  int raw = -1;
  const uint64_t flags = plan.ns.two_stage ? 0 : plan.ns.clone_flags;
  // One stage: the init is cloned into the v2 cgroup; two: the intermediate clones it there.
  const int cgroup_fd = plan.ns.two_stage ? -1 : plan.cgroup2_fd;
  long pid = sys::Clone3(sys::CloneArgs{.flags = flags, .cgroup_fd = cgroup_fd}, &raw);
  if (pid < 0) return ErrnoError(static_cast<int>(-pid), "clone3", "container init");
  if (pid == 0) {
    ::close(parent.get());
    int code = plan.ns.two_stage ? RunIntermediate(plan, sys::LinuxSys(), child.get(), start_listen_fd)
                                 : RunInit(plan, sys::LinuxSys(), child.get(), start_listen_fd);
    ::_exit(code);
  }
  child.reset();
  sys::PidFd first(UniqueFd(raw), static_cast<pid_t>(pid));
  if (!plan.ns.two_stage) return SetupChild{std::move(first), std::move(parent)};
  auto init = ReceiveStage2(first, parent.get(), timeout_ms);
  if (!init.ok()) return Annotate(init.status(), "create container init");
  return SetupChild{std::move(*init), std::move(parent)};
}

absl::StatusOr<SetupChild> SpawnExec(const ExecPlan& plan, int timeout_ms) {
  UniqueFd parent, child;
  RETURN_IF_ERROR(MakeSyncPair(&parent, &child));
  int raw = -1;
  long pid = sys::Clone3(sys::CloneArgs{}, &raw);
  if (pid < 0) return ErrnoError(static_cast<int>(-pid), "clone3", "exec helper");
  if (pid == 0) {
    ::close(parent.get());
    ::_exit(RunExecStage1(plan, sys::LinuxSys(), child.get()));
  }
  child.reset();
  sys::PidFd helper(UniqueFd(raw), static_cast<pid_t>(pid));
  auto proc = ReceiveStage2(helper, parent.get(), timeout_ms);
  if (!proc.ok()) return proc.status();
  return SetupChild{std::move(*proc), std::move(parent)};
}

}  // namespace cricket::runtime
