// /proc/<pid>/mountinfo parsing (proc(5)): used to find cgroup hierarchies, to check mount flags and
// propagation, and by tests to prove that nothing was left mounted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::sys {

struct MountInfo {
  int id = 0;
  int parent_id = 0;
  std::string root;                          // the root of the mount within its filesystem
  std::string mount_point;                   // octal escapes (\040) decoded
  std::string options;                       // per-mount options ("rw,nosuid,relatime")
  std::vector<std::string> optional_fields;  // "shared:1", "master:2", "propagate_from:3", "unbindable"
  std::string fstype;
  std::string source;
  std::string super_options;

  bool HasOption(std::string_view opt) const;       // in options
  bool HasSuperOption(std::string_view opt) const;  // in super_options
  // "shared", "slave", "private" or "unbindable" (a shared-and-slave mount reports "shared").
  std::string Propagation() const;
};

absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(std::string_view text);
// Reads /proc/self/mountinfo (pid 0) or /proc/<pid>/mountinfo.
absl::StatusOr<std::vector<MountInfo>> ReadMountInfo(int pid = 0);

// Mount points at or below `dir` in the caller's mount namespace (deepest first, ready to unmount).
absl::StatusOr<std::vector<std::string>> MountsUnder(const std::string& dir);

}  // namespace cricket::sys
