// clone3(2) with fork semantics (no CLONE_VM: the child runs on a copy-on-write copy of the caller's
// memory) and helpers built on it.
//
// In the child of a multithreaded caller only async-signal-safe work is allowed (no malloc, no locks,
// no glibc set*id wrappers): use Sys from sys.h and finish with execve or _exit.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

struct CloneArgs {
  uint64_t flags = 0;         // CLONE_NEW*, CLONE_PARENT, ...; CLONE_PIDFD is added
  int exit_signal = SIGCHLD;  // ignored with CLONE_PARENT (the child gets the caller's)
  int cgroup_fd = -1;         // >= 0 adds CLONE_INTO_CGROUP (cgroup v2 directory fd)
};

// Returns the child's pid in the parent (with *pidfd set to a new pidfd), 0 in the child, or -errno.
long Clone3(const CloneArgs& args, int* pidfd);

struct UidGidMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
  bool operator==(const UidGidMapping&) const = default;
};

// The text of a /proc/<pid>/uid_map or gid_map file: one "container host size" line per mapping.
std::string FormatIdMap(const std::vector<UidGidMapping>& mappings);

// Writes the uid/gid maps of a process in a new user namespace; `deny_setgroups` writes "deny" to
// /proc/<pid>/setgroups first (needed when the writer lacks CAP_SETGID in the parent namespace).
absl::Status WriteIdMaps(pid_t pid, const std::vector<UidGidMapping>& uid_map,
                         const std::vector<UidGidMapping>& gid_map, bool deny_setgroups);

// A new user namespace with the given mappings, as an fd of its nsfs file (for mount_setattr
// MOUNT_ATTR_IDMAP). A short-lived child holds it while the maps are written and is reaped before
// returning.
absl::StatusOr<UniqueFd> MakeUserNamespace(const std::vector<UidGidMapping>& uid_map,
                                           const std::vector<UidGidMapping>& gid_map);

}  // namespace cricket::sys
