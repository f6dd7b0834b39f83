// What a CRI Mount asks of its bind mount beyond source, destination, read-only and propagation:
// recursive read-only (recursive_read_only), idmapping (uidMappings/gidMappings) and extra bind mount
// options (mount_options), as OCI mount options for lib/runtime ("rro", "idmap" with the mount's
// mappings, "nosuid", ...).
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "lib/oci/spec.h"
#include "runtime/v1/api.pb.h"
#include "server/user_namespace.h"

namespace cricket::server {

// Adds to `out` (the bind mount made for `m`) what `m` asks for; `pod_userns` is the pod's user
// namespace (nullopt: the host's). Refused with InvalidArgument naming the mount (`where`):
//  - recursive_read_only without readonly, or with a propagation other than PRIVATE (the CRI: "when set
//    to true, readonly must be explicitly set to true, and propagation must be PRIVATE");
//  - malformed or one-sided uidMappings/gidMappings;
//  - a mount option the kernel does not apply to a bind mount (named), or "rw" on a read-only mount.
// Mappings equal to the pod's make the mount idmapped with the pod's own namespace.
absl::Status ApplyMountFeatures(const ::runtime::v1::Mount& m,
                                const std::optional<UserNamespaceMaps>& pod_userns, std::string_view where,
                                oci::Mount& out);

// The options ApplyMountFeatures accepts in mount_options: per-mount flags of a bind mount
// (mount_setattr(2) attributes).
bool IsBindMountOption(std::string_view option);

}  // namespace cricket::server
