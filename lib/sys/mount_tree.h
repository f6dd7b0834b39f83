// Detached mount trees (open_tree(2) OPEN_TREE_CLONE) and their attributes (mount_setattr(2)): the
// building blocks of idmapped and recursively read-only mounts. A detached tree is visible to no one
// until it is attached with move_mount(2); closing its last descriptor unmounts it, so an error path
// that only closes descriptors leaves nothing mounted.
//
// Idmapped mounts (MOUNT_ATTR_IDMAP) need CAP_SYS_ADMIN in the user namespace that owns the
// filesystem: for the host's filesystems, a process of the initial user namespace. A container in a
// user namespace therefore gets its idmapped trees made by the runtime before it joins, and attaches
// them.
#pragma once

#include <sys/mount.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

// A detached copy of the mount at `path` (relative to `dirfd`, AT_FDCWD for the cwd); with `recursive`
// its submounts too. Close-on-exec.
absl::StatusOr<UniqueFd> CloneMountTree(int dirfd, const std::string& path, bool recursive);

// Sets and clears MOUNT_ATTR_* attributes of the top mount of `tree`, or of every mount in it with
// `recursive`. `userns_fd` >= 0 adds MOUNT_ATTR_IDMAP with that user namespace (a detached tree that
// was never attached only). `what` names the tree in errors.
absl::Status SetMountTreeAttributes(int tree, uint64_t attr_set, uint64_t attr_clr, int userns_fd,
                                    bool recursive, const std::string& what);

// Whether an idmapped mount can be made of the filesystem holding `path` (the probe critest makes
// before its user namespace tests): a detached copy of it is idmapped with a throwaway user namespace
// and discarded. FailedPrecondition naming the reason otherwise.
absl::Status ProbeIdmappedMount(const std::string& path);

// Whether mount_setattr(2) with AT_RECURSIVE works here (Linux 5.12): a detached copy of `path` is made
// read-only recursively and discarded. FailedPrecondition otherwise.
absl::Status ProbeRecursiveReadOnly(const std::string& path);

}  // namespace cricket::sys
