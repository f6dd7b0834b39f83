// cricket's default container spec: the starting point the CRI layer (server/) fills in from the CRI
// ContainerConfig and the image config. The lists are the ones containerd and CRI-O use, so that
// workloads see the same container environment under cricket.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/oci/spec.h"

namespace cricket::oci {

// PATH of a container whose image sets none.
inline constexpr std::string_view kDefaultPathEnv =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The filesystems every container gets, in mount order: /proc, /dev (tmpfs), /dev/pts (devpts with
// newinstance, ptmxmode=0666, mode=0620, gid=5), /dev/shm (tmpfs, 64 MiB), /dev/mqueue, /sys (sysfs,
// read-only) and /sys/fs/cgroup (cgroup, read-only). With `privileged`, /sys and /sys/fs/cgroup are
// writable, as containerd and CRI-O do for privileged containers.
std::vector<Mount> DefaultMounts(bool privileged = false);

// Paths masked (over-mounted with /dev/null or an empty read-only tmpfs) in unprivileged containers.
std::vector<std::string> DefaultMaskedPaths();
// Paths remounted read-only in unprivileged containers.
std::vector<std::string> DefaultReadonlyPaths();

// The device nodes the runtime MUST supply (config-linux.md "Default Devices"): /dev/null, zero,
// full, random, urandom, tty and ptmx, plus /dev/console when `terminal` (which the runtime provides
// by bind-mounting the container's pty there, not with mknod). Mode 0666, owner 0:0. These are the
// runtime's to create; DefaultSpec does not list them in linux.devices.
std::vector<Device> DefaultDevices(bool terminal);

// The device cgroup rules of an unprivileged container, in order: deny everything, then allow mknod
// of any character or block device (creating a node is harmless; opening it is what is checked), and
// read/write/mknod of null, zero, full, random, urandom, tty, console, ptmx, the devpts ptys (136:*)
// and /dev/net/tun (10:200).
std::vector<DeviceCgroupRule> DefaultDeviceCgroupRules();
// A privileged container's rule: allow all ("a", rwm).
std::vector<DeviceCgroupRule> PrivilegedDeviceCgroupRules();

// The character and block devices under `dev_dir` (normally /dev), as linux.devices entries for a
// privileged container: path (as seen in the container, i.e. under /dev), type, numbers, mode and
// owner. Skips /dev/pts, /dev/shm, /dev/mqueue, /dev/fd and /dev/console, and symlinks. Sorted by path.
absl::StatusOr<std::vector<Device>> HostDevices(const std::string& dev_dir = "/dev");

struct DefaultSpecOptions {
  // crio.runtime default_capabilities: names with or without "CAP_", any case. They become the
  // bounding, effective and permitted sets (and inheritable with add_inheritable_capabilities).
  // "ALL" expands to host_capabilities. Ignored when privileged.
  std::vector<std::string> capabilities;
  // crio.runtime add_inheritable_capabilities. Off by default: inheritable capabilities let a non-root
  // process regain capabilities by executing a file with inheritable file capabilities
  // (CVE-2022-27652).
  bool add_inheritable_capabilities = false;
  // A privileged container: every capability in `host_capabilities`, no masked or read-only paths,
  // all devices allowed, writable /sys and /sys/fs/cgroup, no seccomp filter.
  bool privileged = false;
  // Every capability the host can grant: pass HostGrantableCapabilities(). Required (non-empty) when
  // privileged; otherwise only used to expand "ALL".
  std::vector<std::string> host_capabilities;
  bool terminal = false;
  // Add a cgroup namespace (the CRI default on cgroup v2 hosts; runtime namespace on v1).
  bool cgroup_namespace = false;
  // The filter of an unprivileged container (e.g. RenderRuntimeDefault from seccomp_profile.h);
  // absent: no filter (Unconfined). Ignored when privileged.
  std::optional<LinuxSeccomp> seccomp;
};

// A complete, valid spec with: ociVersion kOciVersion; root "rootfs"; DefaultMounts; process with
// user 0:0, cwd "/", env {kDefaultPathEnv}, no args (the caller sets them; ValidateSpec requires one),
// the capability sets above, no rlimits; new pid, network, ipc, uts and mount namespaces (cgroup too
// when asked); DefaultDeviceCgroupRules; DefaultMaskedPaths and DefaultReadonlyPaths. Fails with
// InvalidArgument naming an unknown capability name.
absl::StatusOr<Spec> DefaultSpec(const DefaultSpecOptions& options);

}  // namespace cricket::oci
