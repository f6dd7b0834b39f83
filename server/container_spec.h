// CRI → OCI: the config.json of a container, built from its CRI ContainerConfig, the image config and
// what it shares with its pod sandbox. A pure function of its inputs (plus reading the rootfs's
// /etc/passwd and the host's device nodes), so that its rules are unit-tested as data.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cdi/edits.h"
#include "lib/cdi/registry.h"
#include "lib/image/manifest.h"
#include "lib/oci/spec.h"
#include "runtime/v1/api.pb.h"
#include "server/config.h"
#include "server/image_volumes.h"
#include "server/user_namespace.h"

namespace cricket::server {

// What a container takes from its pod sandbox.
struct SandboxShare {
  std::string id;
  std::string hostname;
  // Namespace paths; "" means the host's namespace (host network / host IPC).
  std::string netns_path;
  std::string ipcns_path;
  std::string utsns_path;
  // The infra process's pid namespace (/proc/<pid>/ns/pid), for pid mode POD. "" when the pod has no
  // infra (no pod-level pid namespace): a container asking for the pod's then gets the pod's mode,
  // the host's (host_pid) or one of its own.
  std::string pidns_path;
  bool host_pid = false;
  // Files cricket wrote for the pod, bind-mounted into each container ("" to skip).
  std::string hosts_path;
  std::string resolv_conf_path;
  std::string hostname_path;
  std::string shm_path;       // the pod's /dev/shm mount ("" with host IPC: the host's /dev/shm)
  std::string cgroup_parent;  // as the pod config gives it (a cgroupfs path or a systemd slice)
  std::string log_directory;
  // The pod's user namespace (pinned) and its maps; "" and nullopt for the host's.
  std::string userns_path;
  std::optional<UserNamespaceMaps> userns;
};

struct ContainerSpecInput {
  std::string id;
  const ::runtime::v1::ContainerConfig* config = nullptr;
  const image::ImageConfig* image = nullptr;
  std::string image_ref;  // the image id, recorded in annotations
  std::string rootfs;     // the mounted rootfs (overlay merged dir)
  SandboxShare sandbox;
  const Config* daemon = nullptr;
  // Every capability the host can grant (oci::HostGrantableCapabilities()).
  std::vector<std::string> host_capabilities;
  // The seccomp filter chosen for the container (ResolveSeccomp); nullopt: unconfined.
  std::optional<oci::LinuxSeccomp> seccomp;
  // For pid mode TARGET: the target container's pid namespace path.
  std::string target_pidns_path;
  bool cgroup_v2 = false;  // the host's cgroup layout is the unified hierarchy
  // The host's /dev (for privileged containers and CRI devices); a test may point it elsewhere.
  std::string host_dev_dir = "/dev";
  // The image volumes of the CRI mounts, mounted (MountImageVolumes).
  std::vector<ImageVolumeMount> image_volumes;
  // For [crio.image] image_volumes = "bind": where the image's declared volumes get their directories
  // (under the container's storage directory, so they go with it).
  std::string declared_volumes_dir;
  // The container's CDI devices, resolved (nullptr: none), and how their host nodes are read.
  const cdi::Resolution* cdi = nullptr;
  cdi::HostDeviceLookup cdi_host_devices = cdi::StatHostDevice;
};

absl::StatusOr<oci::Spec> BuildContainerSpec(const ContainerSpecInput& in);

// The process arguments kubelet expects: command replaces the image entrypoint, args replace the image
// cmd; with a command and no args the image cmd is dropped. InvalidArgument when the result is empty.
absl::StatusOr<std::vector<std::string>> ContainerArgs(const ::runtime::v1::ContainerConfig& config,
                                                       const image::ImageConfig& image);

// Environment: daemon default_env, then the image's, then the CRI envs; a later KEY wins in place.
std::vector<std::string> MergeEnv(const std::vector<std::string>& default_env,
                                  const std::vector<std::string>& image_env,
                                  const ::runtime::v1::ContainerConfig& config);

// The capability list of a non-privileged container: defaults + add − drop; "ALL" in add grants every
// host capability, "ALL" in drop removes all but the explicitly added ones.
absl::StatusOr<std::vector<std::string>> ContainerCapabilities(const std::vector<std::string>& defaults,
                                                               const ::runtime::v1::Capability& request,
                                                               const std::vector<std::string>& host_caps);

// CRI resources as OCI linux.resources (CreateContainer and UpdateContainerResources). `unified`
// needs the cgroup v2 hierarchy (InvalidArgument otherwise). oom_score_adj is not a cgroup resource
// and is not part of the result.
absl::StatusOr<oci::LinuxResources> ToOciResources(const ::runtime::v1::LinuxContainerResources& r,
                                                   bool cgroup_v2);

// The OCI cgroupsPath for a container or sandbox `id` under `parent` for the configured driver:
// cgroupfs "<parent>/cricket-<id>" (parent "" → "/cricket"), systemd "<slice>:cricket:<id>"
// (parent "" → "system.slice").
std::string CgroupsPath(const std::string& cgroup_manager, const std::string& parent, const std::string& id);

}  // namespace cricket::server
