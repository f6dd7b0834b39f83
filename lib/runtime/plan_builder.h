// Building the plans of plan.h from an OCI spec. Pure functions of the spec and of the host facts
// passed in (no system calls), so they are tested as data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/oci/spec.h"
#include "lib/runtime/cgroups/resource_plan.h"
#include "lib/runtime/plan.h"

namespace cricket::runtime {

// What the planners need to know about the host. HostFacts::Detect() reads them.
struct HostFacts {
  int last_cap = 40;
  // Capabilities the runtime itself can hand out (its permitted ∩ bounding): a container asking for
  // more gets a warning and the rest (this host's root lacks CAP_SYS_RESOURCE, for instance).
  uint64_t grantable_caps = ~0ULL;
  bool apparmor_enabled = false;
  bool selinux_enabled = false;
  bool kcore_exists = true;  // /proc/kcore, target of the /dev/core symlink
  // Host device nodes that exist (by path), for bind-mounting devices into user namespaces.
  std::vector<std::string> host_devices = {"/dev/null",   "/dev/zero",    "/dev/full",
                                           "/dev/random", "/dev/urandom", "/dev/tty"};
  // The cgroup hierarchies (cgroup mounts inside the container mirror them).
  std::vector<cgroups::Hierarchy> cgroup_hierarchies;

  static HostFacts Detect();
};

// Per-container inputs besides the spec.
struct PlanContext {
  std::string bundle;  // absolute
  // The root filesystem on the host (for /etc/passwd lookups); "" skips them.
  std::string rootfs;
  HostFacts host;
  // The container's cgroup in each hierarchy (for bind-mounting it when there is no cgroup namespace).
  std::vector<cgroups::CgroupDir> cgroup_dirs;
  // Warnings for the caller to log (capabilities dropped, options ignored, ...).
  std::vector<std::string>* warnings = nullptr;
};

// linux.namespaces → clone flags and joins (fds are not opened here: NamespaceJoin::fd stays -1).
absl::StatusOr<NamespacePlan> BuildNamespacePlan(const oci::Spec& spec);

// root, mounts, devices, masked/readonly paths, sysctls, hostname → RootfsPlan.
absl::StatusOr<RootfsPlan> BuildRootfsPlan(const oci::Spec& spec, const NamespacePlan& ns,
                                           const PlanContext& ctx);

// process → ProcessPlan (credentials, capabilities, LSM labels, argv/envp, candidates); `seccomp` is the
// compiled filter to install (may be empty). Finalize() is called.
absl::StatusOr<ProcessPlan> BuildProcessPlan(const oci::Process& process, const NamespacePlan& ns,
                                             const PlanContext& ctx);

// The parsed form of a mount's options.
struct MountOptions {
  unsigned long flags = 0;        // MS_* (incl. MS_BIND / MS_REC for bind and rbind)
  unsigned long clear_flags = 0;  // explicitly negated ("rw", "suid", ...)
  unsigned long propagation = 0;  // MS_SHARED | MS_REC, ...
  uint64_t rattr_set = 0;         // recursive attributes ("rro", "rnosuid", ...)
  uint64_t rattr_clr = 0;
  bool idmap = false;
  bool ridmap = false;
  std::vector<std::string> data;  // filesystem-specific options, in order
  std::vector<std::string> ignored;
};
MountOptions ParseMountOptions(const std::vector<std::string>& options);

// "net.ipv4.ip_forward" → "/proc/sys/net/ipv4/ip_forward"; a key containing '/' is taken as a path
// below /proc/sys. InvalidArgument for ".." or empty components.
absl::StatusOr<std::string> SysctlPath(const std::string& key);

// The home directory of `uid` from <rootfs>/etc/passwd (resolved inside the rootfs), or "/".
std::string HomeDirectory(const std::string& rootfs, uid_t uid);

// Executables to try for args[0] given the process environment (PATH lookup for a bare name).
std::vector<std::string> ExecCandidates(const std::string& arg0, const std::vector<std::string>& env);

}  // namespace cricket::runtime
