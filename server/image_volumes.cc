#include "server/image_volumes.h"

#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "server/image_lookup.h"

namespace cricket::server {

bool IsImageVolume(const ::runtime::v1::Mount& m) { return m.has_image() && !m.image().image().empty(); }

absl::StatusOr<std::vector<ImageVolumeMount>> MountImageVolumes(storage::Store& store, const std::string& id,
                                                                const ::runtime::v1::ContainerConfig& config,
                                                                const storage::RootfsIdmap& idmap) {
  std::vector<ImageVolumeMount> out;
  for (const ::runtime::v1::Mount& m : config.mounts()) {
    if (!IsImageVolume(m)) continue;
    std::string where = StrCat("image volume ", m.image().image(), " on ", m.container_path());
    if (m.container_path().empty() || m.container_path().front() != '/') {
      return absl::InvalidArgumentError(StrCat(where, ": container_path must be absolute"));
    }
    auto image = LookupImage(store, m.image().image());
    if (!image.ok()) return Annotate(image.status(), where);
    ASSIGN_OR_RETURN(storage::ImageVolume volume, store.AddImageVolume(id, image->id, idmap));
    auto source = storage::ResolveImageVolumePath(volume, m.image_sub_path());
    if (!source.ok()) return Annotate(source.status(), where);
    out.push_back({CleanPath(m.container_path()), *std::move(source)});
  }
  return out;
}

}  // namespace cricket::server
