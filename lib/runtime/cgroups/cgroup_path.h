// Where a container's cgroup is: linux.cgroupsPath for the cgroupfs and systemd drivers.
//
// cgroupfs: an absolute path ("/kubepods/burstable/pod123/ctr") is taken from the root of every
// hierarchy; a relative one is taken below the calling process's own cgroup in each hierarchy, as runc
// does (runtime-spec config-linux.md#cgroups-path: "If the value is specified, the runtime MUST
// consistently attach to the same place ... relative paths MAY be interpreted relative to a
// runtime-determined location").
//
// systemd: "slice:prefix:name" names unit <prefix>-<name>.scope (or the slice <name> when it ends in
// .slice) inside the slice, whose cgroup path systemd derives from the dashes in its name:
// "kubepods-burstable-pod123.slice" is
// /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice. cricket does not talk to systemd
// over D-Bus: with the systemd driver it creates those directories on cgroupfs itself (what systemd would
// create for a delegated scope). On a host where systemd is PID 1 and owns the tree, the full approach is
// StartTransientUnit with Delegate=yes; that is not done here.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/runtime/cgroups/layout.h"

namespace cricket::cgroups {

enum class Driver { kCgroupfs, kSystemd };

// "cgroupfs" or "systemd" (crio.conf cgroup_manager values).
absl::StatusOr<Driver> ParseDriver(std::string_view name);
std::string_view DriverName(Driver driver);

// A container's cgroup before it is located in each hierarchy.
struct CgroupPath {
  std::string path;       // cleaned; absolute ("/a/b") or relative ("a/b")
  bool relative = false;  // relative to the caller's own cgroup in each hierarchy
};

// linux.cgroupsPath → CgroupPath. An empty value means "<container_id>" below the caller's cgroup
// for cgroupfs and "system.slice:cricket:<container_id>" for systemd. Rejects ".." components, the
// root cgroup itself, and a value of the other driver's form, naming the value.
absl::StatusOr<CgroupPath> ParseCgroupsPath(Driver driver, std::string_view cgroups_path,
                                            std::string_view container_id);

// Expands a systemd slice name to its cgroup path: "a-b.slice" → "/a.slice/a-b.slice", "-.slice" → "/".
absl::StatusOr<std::string> ExpandSlice(std::string_view slice);

// The cgroup of `path` in hierarchy `h`, relative to h's mount root ("/kubepods/pod1/ctr").
std::string CgroupIn(const Hierarchy& h, const CgroupPath& path);

// The directory of that cgroup on this host: h.mount_point + CgroupIn(h, path).
std::string DirIn(const Hierarchy& h, const CgroupPath& path);

}  // namespace cricket::cgroups
