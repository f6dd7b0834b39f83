// The VOLUMEs an image's config declares ("config.Volumes"), handled as [crio.image] image_volumes says:
//   mkdir   each missing directory is made in the container's rootfs, owned by the container's user;
//   bind    each gets an empty directory of its own under the container's storage directory (removed with
//           the container), bind-mounted read-write at the path;
//   ignore  nothing is done.
// A CRI mount at the same path wins: kubelet's volume replaces the image's, and nothing is made for it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/oci/spec.h"
#include "server/container_spec.h"

namespace cricket::server {

// Appends the bind mounts of mode "bind" to `mounts` (before the CRI mounts are added, so that a CRI
// mount below a declared volume lands on top of it), or makes the directories of mode "mkdir" in
// `in.rootfs`. `uid`/`gid` are the container process's ids inside the container. InvalidArgument naming
// the path for a declared volume that is not absolute.
absl::Status AddDeclaredVolumes(const ContainerSpecInput& in, uint32_t uid, uint32_t gid,
                                std::vector<oci::Mount>& mounts);

}  // namespace cricket::server
