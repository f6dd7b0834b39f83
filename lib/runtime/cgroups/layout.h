// Which cgroup hierarchies this host has and where: pure cgroup v2 (one unified hierarchy at the
// root), pure v1 (one hierarchy per controller group) or hybrid (v1 hierarchies plus a cgroup2 mount,
// usually <root>/unified, holding the controllers no v1 hierarchy took).
//
// A controller is served by the v1 hierarchy that mounts it; in hybrid mode a controller no v1
// hierarchy mounts is served by the unified hierarchy when its root's cgroup.controllers lists it (as
// runc does). Nothing here fails because a controller is absent: the caller asks HierarchyFor() and
// reports the controller it needed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cricket::cgroups {

enum class Mode { kV1, kV2, kHybrid };
std::string_view ModeName(Mode mode);

// One mounted cgroup hierarchy.
struct Hierarchy {
  int version = 1;               // 1 or 2
  std::string mount_point;       // directory it is mounted on (under a test prefix for fake trees)
  std::string mount_root = "/";  // the cgroup at the mount point (mountinfo field 4; not "/" in a cgroupns)
  // v1: the mount's subsystems, named hierarchies as "name=systemd"; v2: the root's cgroup.controllers.
  std::vector<std::string> controllers;
  // The calling process's cgroup, relative to mount_root ("/" when at the mount's root or unknown).
  std::string own_cgroup = "/";

  bool Has(std::string_view controller) const;
  // A short label for messages: "cpu,cpuacct" or "unified".
  std::string Label() const;
};

// One line of /proc/<pid>/mountinfo (octal escapes decoded).
struct MountInfoEntry {
  std::string root;
  std::string mount_point;
  std::string fstype;
  std::string source;
  std::string super_options;
};
absl::StatusOr<std::vector<MountInfoEntry>> ParseMountInfo(std::string_view text);

// One line of /proc/<pid>/cgroup: "4:memory:/a/b", "0::/a" (v2), "9:name=systemd:/".
struct ProcCgroupEntry {
  int hierarchy_id = 0;
  std::vector<std::string> controllers;
  std::string path;
};
absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(std::string_view text);

// /proc/cgroups: the controllers the kernel has and whether each is enabled.
struct KernelController {
  std::string name;
  int hierarchy_id = 0;  // 0: not bound to a v1 hierarchy (free for v2)
  bool enabled = true;
};
absl::StatusOr<std::vector<KernelController>> ParseProcCgroups(std::string_view text);

struct DetectOptions {
  // Only cgroup mounts at or below this directory are considered, so that a test's own cgroup2 mount
  // elsewhere does not change the detected layout.
  std::string root = "/sys/fs/cgroup";
  std::string mountinfo_path = "/proc/self/mountinfo";
  std::string self_cgroup_path = "/proc/self/cgroup";
  std::string proc_cgroups_path = "/proc/cgroups";
  // Prepended to the mount points found in mountinfo before they are read (a fake tree in a temp dir
  // standing in for "/"). Hierarchy::mount_point carries the prefix.
  std::string path_prefix;
};

class Layout {
 public:
  // Reads mountinfo, /proc/self/cgroup, /proc/cgroups and the unified root's cgroup.controllers.
  static absl::StatusOr<Layout> Detect(const DetectOptions& options = {});
  // Detect() from texts already read; only cgroup.controllers is read from disk (under path_prefix).
  static absl::StatusOr<Layout> FromTexts(std::string_view mountinfo, std::string_view self_cgroup,
                                          std::string_view proc_cgroups, const DetectOptions& options);
  // A pure v2 layout over the cgroup2 hierarchy at `mount_point` (the host's, a test mount or a fake
  // tree). The caller's own cgroup is taken as `own_cgroup`.
  static absl::StatusOr<Layout> UnifiedAt(const std::string& mount_point, std::string own_cgroup = "/");
  // A layout from explicit hierarchies (at most one v2). InvalidArgument when empty or two v2.
  static absl::StatusOr<Layout> FromHierarchies(std::vector<Hierarchy> hierarchies);

  // The hierarchies as one line of JSON (version, mount point, mount root, controllers; not the caller's
  // own cgroups), so that a process started for one container (cricket-conmon) need not read the host's
  // mountinfo again: with many pods that file is long and costly to generate.
  std::string Serialize() const;
  // A layout from Serialize()'s text, with each hierarchy's own_cgroup taken from `self_cgroup` (the
  // text of /proc/self/cgroup of the process that will use it). InvalidArgument on a malformed text.
  static absl::StatusOr<Layout> Deserialize(std::string_view text, std::string_view self_cgroup);

  Mode mode() const { return mode_; }
  const std::vector<Hierarchy>& hierarchies() const { return hierarchies_; }
  // The cgroup2 hierarchy, or nullptr in pure v1.
  const Hierarchy* unified() const;
  // The hierarchy serving `controller` ("memory", "hugetlb", "name=systemd"), or nullptr when no
  // hierarchy has it. In v2 and hybrid mode, the unified one when its cgroup.controllers lists it.
  const Hierarchy* HierarchyFor(std::string_view controller) const;
  // "hybrid: cpu, cpuacct, ..., unified(hugetlb) under /sys/fs/cgroup" for logs and errors.
  std::string Describe() const;

 private:
  Mode mode_ = Mode::kV1;
  std::vector<Hierarchy> hierarchies_;
  int unified_index_ = -1;
};

}  // namespace cricket::cgroups
