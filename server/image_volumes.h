// CRI image volumes (Mount.image, Mount.image_sub_path; Kubernetes ImageVolume): a pulled image's
// filesystem mounted read-only into a container. The image is mounted by the store (lib/storage
// AddImageVolume: a read-only, nodev, nosuid overlay of its layers under the container's storage
// directory, the layers idmapped with the pod's maps in a user-namespaced pod, recorded so that RemoveImage
// refuses the image until the container is removed), and bind-mounted into the container by its OCI spec
// (read-only, nodev, nosuid; exec allowed).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/storage/store.h"
#include "runtime/v1/api.pb.h"

namespace cricket::server {

// One image volume ready to be bind-mounted.
struct ImageVolumeMount {
  std::string container_path;  // cleaned
  std::string source;          // the volume's mount point, or the resolved image_sub_path inside it
};

// Whether a CRI mount is an image volume.
bool IsImageVolume(const ::runtime::v1::Mount& m);

// Mounts every image volume of `config` for container `id` (whose rootfs exists). NotFound naming the
// image when it is not present (kubelet pulls first); InvalidArgument for a relative container_path or
// a bad image_sub_path. What was mounted before an error stays recorded with the rootfs: removing the
// container rootfs undoes it. `idmap`: the container's user namespace, whose maps the volume's layers
// are seen through (as its rootfs's are); empty without one.
absl::StatusOr<std::vector<ImageVolumeMount>> MountImageVolumes(storage::Store& store, const std::string& id,
                                                                const ::runtime::v1::ContainerConfig& config,
                                                                const storage::RootfsIdmap& idmap = {});

}  // namespace cricket::server
