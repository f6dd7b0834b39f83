// CRI user namespaces (NamespaceOption.userns_options; Kubernetes hostUsers: false) and idmapped mounts
// (Mount.uidMappings/gidMappings): the rules a request must follow, and the id arithmetic between the
// host and a pod.
//
// A pod asks for mode POD with exactly one uid and one gid mapping that maps container id 0 (the CRI
// comments: "NamespaceMode for UserNamespace currently supports only POD and NODE"; kubelet hands each
// pod one range of 65536 ids; critest refuses more than one mapping and an unmapped root). cricket
// also refuses a range holding host id 0 (the host's root given to a pod) and user namespaces together
// with the host's network, IPC or PID namespace (they would not be owned by the pod's namespace).
// Every container of such a pod runs in the pod's namespace: a container's own userns_options may
// only repeat the pod's.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/sys/clone.h"
#include "runtime/v1/api.pb.h"

namespace cricket::server {

struct UserNamespaceMaps {
  std::vector<sys::UidGidMapping> uid_map;
  std::vector<sys::UidGidMapping> gid_map;
  bool operator==(const UserNamespaceMaps&) const = default;
};

// The pod's user namespace: nullopt for the host's (no userns_options, or mode NODE without
// mappings); InvalidArgument naming what is wrong for anything else but a valid mode POD.
absl::StatusOr<std::optional<UserNamespaceMaps>> PodUserNamespace(const ::runtime::v1::NamespaceOption& ns);

// A container's userns_options against its pod's namespace (`pod`, nullopt for the host's): absent, or
// the same mode and mappings as the pod's. InvalidArgument otherwise.
absl::Status CheckContainerUserNamespace(const ::runtime::v1::NamespaceOption& ns,
                                         const std::optional<UserNamespaceMaps>& pod);

// A mount's uidMappings/gidMappings (both or neither; each mapping non-empty and within 32 bits), for
// an idmapped mount. nullopt when the mount has none. `where` prefixes errors.
absl::StatusOr<std::optional<UserNamespaceMaps>> MountIdMappings(const ::runtime::v1::Mount& m,
                                                                 std::string_view where);

// The id inside a namespace with `map` of host id `host_id`; the overflow id 65534 when unmapped.
uint32_t IdInNamespace(const std::vector<sys::UidGidMapping>& map, uint32_t host_id);

// The host id of container id `id`; nullopt when unmapped.
std::optional<uint32_t> HostIdOf(const std::vector<sys::UidGidMapping>& map, uint32_t id);

}  // namespace cricket::server
