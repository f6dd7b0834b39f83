// Path resolution confined to a directory tree (a container rootfs), for the container init and for
// setup code in the runtime.
//
// Every lookup goes through openat2(2) with RESOLVE_IN_ROOT: "..", absolute symlinks and absolute paths
// are all interpreted relative to the root fd, so a symlink planted in an image cannot make a mount
// target or a device node land on the host. Magic links (/proc/self/fd/N and friends) are refused.
// The child-side functions take a Sys& and use fixed buffers only (async-signal-safe); results are an
// fd (>= 0) or -errno.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"
#include "lib/sys/sys.h"

namespace cricket::sys {

// Opens `path` inside the tree at `root_fd`. `flags` are open(2) flags (O_CLOEXEC is added);
// `extra_resolve` adds RESOLVE_* flags (e.g. RESOLVE_NO_SYMLINKS for /proc and /dev targets).
int OpenInRoot(Sys& sys, int root_fd, const char* path, uint64_t flags, uint64_t extra_resolve = 0);

// mkdir -p inside the tree: creates each missing directory of `path` with `mode`, each component
// resolved inside the root. Returns an O_PATH fd of the final directory.
int MkdirAllInRoot(Sys& sys, int root_fd, const char* path, mode_t mode, uint64_t extra_resolve = 0);

// Makes sure a mount target exists and returns an O_PATH fd of it: a directory, or, when `file` is
// true, a regular file (created empty, its parents created as directories). An existing target of the
// other kind is accepted as is (the mount will then fail with the kernel's error, naming the target).
int EnsureMountTargetInRoot(Sys& sys, int root_fd, const char* path, bool file, uint64_t extra_resolve = 0);

// Status-returning form for ordinary (non-child) code: opens `path` inside the directory `root`.
absl::StatusOr<UniqueFd> OpenInRootDir(const std::string& root, const std::string& path, int flags);

}  // namespace cricket::sys
