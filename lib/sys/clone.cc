#include "lib/sys/clone.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/pidfd.h"

namespace cricket::sys {

long Clone3(const CloneArgs& args, int* pidfd) {
  clone_args ca{};
  ca.flags = args.flags | CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(pidfd);
  // With CLONE_PARENT the child inherits the caller's exit signal; clone3 refuses one given.
  ca.exit_signal = (args.flags & CLONE_PARENT) ? 0 : static_cast<uint64_t>(args.exit_signal);
  if (args.cgroup_fd >= 0) {
    ca.flags |= CLONE_INTO_CGROUP;
    ca.cgroup = static_cast<uint64_t>(args.cgroup_fd);
  }
  long r = ::syscall(SYS_clone3, &ca, sizeof(ca));
  return r < 0 ? -errno : r;
}

std::string FormatIdMap(const std::vector<UidGidMapping>& mappings) {
  std::string out;
  for (const auto& m : mappings) StrAppend(&out, m.container_id, " ", m.host_id, " ", m.size, "\n");
  return out;
}

absl::Status WriteIdMaps(pid_t pid, const std::vector<UidGidMapping>& uid_map,
                         const std::vector<UidGidMapping>& gid_map, bool deny_setgroups) {
  std::string proc = StrCat("/proc/", pid);
  if (deny_setgroups) RETURN_IF_ERROR(WriteKernelFile(proc + "/setgroups", "deny"));
  if (!uid_map.empty()) RETURN_IF_ERROR(WriteKernelFile(proc + "/uid_map", FormatIdMap(uid_map)));
  if (!gid_map.empty()) RETURN_IF_ERROR(WriteKernelFile(proc + "/gid_map", FormatIdMap(gid_map)));
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> MakeUserNamespace(const std::vector<UidGidMapping>& uid_map,
                                           const std::vector<UidGidMapping>& gid_map) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoError("create", "pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  int raw_pidfd = -1;
  long pid = Clone3(CloneArgs{.flags = CLONE_NEWUSER}, &raw_pidfd);
  if (pid < 0) return ErrnoError(static_cast<int>(-pid), "clone3", "user namespace holder");
  if (pid == 0) {
    // Child: wait until the parent closes its write end, then leave.
    ::close(wr.get());
    char c;
    while (::read(rd.get(), &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  PidFd child(UniqueFd(raw_pidfd), static_cast<pid_t>(pid));
  rd.reset();
  absl::Cleanup reap = [&] {
    wr.reset();
    (void)child.Reap();
  };
  RETURN_IF_ERROR(WriteIdMaps(static_cast<pid_t>(pid), uid_map, gid_map, false));
  std::string ns = StrCat("/proc/", pid, "/ns/user");
  UniqueFd fd(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoError("open", ns);
  return fd;
}

}  // namespace cricket::sys
