// Small async-signal-safe helpers shared by the child-side files (rootfs_child.cc, process_child.cc,
// init_child.cc). Internal to lib/runtime.
#pragma once

#include <cerrno>

#include "lib/runtime/sync.h"
#include "lib/sys/sys.h"

namespace cricket::runtime::child {

// Reports a failed step ("<what> <object>") with `err` (a positive errno) and returns -err.
inline int Fail(int sync_fd, int err, const char* what, const char* object = nullptr) {
  SyncSend(sync_fd, SyncType::kError, err, what, object);
  return -err;
}

// Reports a failure whose result `r` is -errno.
inline int FailR(int sync_fd, int r, const char* what, const char* object = nullptr) {
  return Fail(sync_fd, r < 0 ? -r : EIO, what, object);
}

inline void Warn(int sync_fd, const char* what, const char* object = nullptr) {
  SyncSend(sync_fd, SyncType::kWarning, 0, what, object);
}

// Splits `path` (absolute, no trailing slash) into a directory and a base name stored in `dir`/`base`.
// Returns false when the path has no base name or does not fit.
bool SplitPath(const char* path, char* dir, size_t dir_cap, char* base, size_t base_cap);

// Opens a new pty in the container's devpts (/dev/pts/ptmx, else /dev/ptmx): the master is sent to the
// parent as kConsole, the slave is returned in *slave. With `bind_console` the slave is also
// bind-mounted over /dev/console.
int OpenConsole(sys::Sys& sys, int sync_fd, bool bind_console, int* slave);

}  // namespace cricket::runtime::child
