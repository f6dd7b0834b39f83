// Which seccomp filter a container gets, from its CRI security context (SecurityProfile, or the
// deprecated seccomp_profile_path strings "runtime/default", "docker/default", "unconfined",
// "localhost/<path>") and cricket's [crio.runtime] seccomp settings.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/oci/seccomp_profile.h"
#include "runtime/v1/api.pb.h"
#include "server/config.h"

namespace cricket::server {

// The filter, or nullopt for an unconfined container. A privileged container is unconfined. With no
// profile at all the container is unconfined unless seccomp_use_default_when_empty is set (critest and
// kubelet expect "no profile" to mean unconfined). RuntimeDefault is the seccomp_profile file when one
// is configured, cricket's built-in profile otherwise. A Localhost profile must be an absolute path; an
// unreadable or malformed profile is an InvalidArgument error naming the file.
absl::StatusOr<std::optional<oci::LinuxSeccomp>> ResolveSeccomp(
    const ::runtime::v1::LinuxContainerSecurityContext& sc, const RuntimeSection& runtime,
    const std::vector<std::string>& bounding_caps, const oci::SeccompPlatform& platform);

}  // namespace cricket::server
