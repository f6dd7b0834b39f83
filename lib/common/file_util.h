// File helpers with errors that name the file: whole-file read, crash-safe replace, mkdir -p, rm -r.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cricket {

// Reads a whole file. `limit` guards against unbounded input (ResourceExhausted when exceeded).
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t limit = 64 << 20);

// Replaces `path` atomically: writes a temporary file in the same directory, fsyncs it, renames it
// over `path` and fsyncs the directory. A crash leaves either the old or the new content, never a mix;
// a stale temporary (".<name>.tmp-*") may remain and is ignored by readers.
absl::Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode = 0644);

// The same replacement by rename, without the fsyncs: readers and a crash of this process see the old
// or the new content, but a power loss may leave either, or an empty file. For files that do not
// outlive the boot (the runtime state under runroot: a pod's hostname, hosts and resolv.conf, OCI
// bundles), whose fsyncs cost milliseconds each where /run is not a tmpfs.
absl::Status WriteFileReplacing(const std::string& path, std::string_view content, mode_t mode = 0644);

// Writes `value` to a file of a kernel interface (cgroupfs, procfs, /proc/sys), where one write(2) is
// one setting: the file must exist, there is no temporary file, and a short write is an error. It opens
// with O_TRUNC, as a shell's `>` does: kernel files ignore it, and a plain file standing in for one (in
// tests) holds just the value. The error names the value and the file.
absl::Status WriteKernelFile(const std::string& path, std::string_view value);

// Creates `path` and its missing parents with `mode`; an existing directory is fine.
absl::Status MkdirAll(const std::string& path, mode_t mode = 0755);

// Removes `path` recursively; a missing path is success. It never descends into a directory on another
// filesystem (a mount point left inside the tree) and fails naming it instead, so that a leaked bind
// mount cannot make it delete host data.
absl::Status RemoveAll(const std::string& path);

// RemoveAll for the entry `name` of the directory open at `dirfd`, without following a symlink at
// `name` (a symlink is unlinked, never its target). Same mount rule as RemoveAll.
absl::Status RemoveAllAt(int dirfd, const std::string& name);

bool PathExists(const std::string& path);

// Names of the entries of a directory (without . and ..), sorted.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path);

}  // namespace cricket
