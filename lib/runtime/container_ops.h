// Internal helpers shared by the Runtime operations (runtime.cc, create.cc, exec.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"
#include "lib/oci/state.h"
#include "lib/runtime/cgroups/manager.h"
#include "lib/runtime/container_store.h"
#include "lib/runtime/runtime.h"

namespace cricket::runtime {

// The container's cgroup manager, or nullopt when the host has no usable cgroup layout.
std::optional<cgroups::Manager> CgroupFor(const RuntimeOptions& options, const ContainerRecord& r);

// creating / created / running / paused / stopped, from the record, the init's liveness (a zombie is
// stopped) and the freezer.
oci::ContainerStatus ComputeStatus(const ContainerRecord& r, const std::optional<cgroups::Manager>& cg);

oci::State MakeState(const ContainerRecord& r, oci::ContainerStatus status);

// CLONE_NEW* flags of the namespaces of `pid` that differ from the caller's.
absl::StatusOr<uint64_t> NamespacesToJoin(pid_t pid);

// The start socket in the container's state directory: a listening socket the held init accepts on.
absl::StatusOr<UniqueFd> ListenStartSocket(const std::string& dir);
// Connects to it, asks the init to exec and waits until it has (EOF) or reports why it could not.
absl::Status RequestStart(const std::string& dir);

// SIGKILL to every process of the cgroup (thawing a frozen cgroup first) and to the init, then waits for
// the init to exit. Cheap when the cgroup is already empty.
absl::Status KillEverything(const ContainerRecord& r, const std::optional<cgroups::Manager>& cg);

// Removes what create made: the cgroup, mounts left in a shared mount namespace, the state directory.
absl::Status RemoveContainer(const ContainerStore& store, const ContainerRecord& r,
                             const std::optional<cgroups::Manager>& cg);

// linux.resources with the device cgroup rules the runtime adds after the spec's own (when it has any):
// read/write/mknod of the default devices (null, zero, full, random, urandom, tty, console, ptmx,
// the devpts ptys) and of every linux.devices entry, without which the devices the runtime must supply
// could not be created or opened.
oci::LinuxResources EffectiveResources(const oci::Spec& spec);

// `update` applied over `base`: every property present in `update` replaces the one in `base`.
oci::LinuxResources MergeResources(oci::LinuxResources base, const oci::LinuxResources& update);

}  // namespace cricket::runtime
