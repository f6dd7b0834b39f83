// Image volumes: an image's layers mounted read-only for a container (Kubernetes ImageVolume). Part of
// Store (store.h). The mounts live under the container's directory, so whatever removes or recovers the
// container rootfs (RemoveContainerRootfs, Open's sweep of unrecorded directories) finds them.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/storage/metadata_db.h"
#include "lib/storage/overlay_mount.h"
#include "lib/storage/store.h"
#include "lib/sys/secure_path.h"

namespace cricket::storage {
namespace {

constexpr std::string_view kComponent = "storage";

std::string VolumeDir(const std::string& container_dir, int64_t index) {
  return StrCat(container_dir, "/image-volumes/", index);
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoError("mkdir", path);
  if (::chmod(path.c_str(), mode) != 0) return ErrnoError("chmod", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ResolveImageVolumePath(const ImageVolume& volume, std::string_view sub_path) {
  std::string where = StrCat("image_sub_path \"", sub_path, "\" of image ", volume.image_id);
  if (sub_path.empty()) return volume.merged;
  if (sub_path.front() == '/') return absl::InvalidArgumentError(StrCat(where, ": must be a relative path"));
  for (std::string_view part : Split(sub_path, '/')) {
    if (part == "..") return absl::InvalidArgumentError(StrCat(where, ": \"..\" would escape the image"));
  }
  auto fd = sys::OpenInRootDir(volume.merged, std::string(sub_path), O_PATH);
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status()))
      return absl::InvalidArgumentError(StrCat(where, ": does not exist in the image"));
    return Annotate(fd.status(), where);
  }
  // The image is immutable (a read-only overlay of immutable layers): the resolved path stays valid.
  char buf[4096];
  std::string link = StrCat("/proc/self/fd/", fd->get());
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return ErrnoError("readlink", link);
  std::string resolved(buf, static_cast<size_t>(n));
  if (resolved != volume.merged && !resolved.starts_with(volume.merged + "/")) {
    return absl::InvalidArgumentError(StrCat(where, ": resolves outside the image (", resolved, ")"));
  }
  return resolved;
}

absl::StatusOr<std::vector<std::string>> Store::ImageLowersLocked(const std::string& image_id) {
  std::vector<std::string> lowers;
  ASSIGN_OR_RETURN(Statement q,
                   db_->Prepare("SELECT l.link FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id"
                                " WHERE il.image_id = ? ORDER BY il.position DESC"));
  q.Bind(1, image_id);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    lowers.push_back(StrCat("l/", q.Text(0)));
  }
  if (lowers.empty()) lowers.push_back("empty");  // an image without layers
  return lowers;
}

absl::StatusOr<std::vector<std::string>> Store::ImageUsersLocked(const std::string& image_id, int limit) {
  ASSIGN_OR_RETURN(Statement q,
                   db_->Prepare("SELECT id FROM containers WHERE image_id = ?1"
                                " UNION SELECT container_id FROM image_volumes WHERE image_id = ?1"
                                " ORDER BY 1 LIMIT ?2"));
  q.Bind(1, image_id).Bind(2, int64_t{limit});
  std::vector<std::string> users;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    users.push_back(q.Text(0));
  }
  return users;
}

absl::StatusOr<ImageVolume> Store::AddImageVolume(std::string_view id, std::string_view image_id,
                                                  const RootfsIdmap& idmap) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<ContainerRootfs> c, LoadContainerLocked(id));
  if (!c) return absl::NotFoundError(StrCat("container rootfs ", id, " not found"));
  std::string full_id = image_id.starts_with("sha256:") ? std::string(image_id) : StrCat("sha256:", image_id);
  ASSIGN_OR_RETURN(std::optional<ImageInfo> image, LoadImageLocked(full_id));
  if (!image) return absl::NotFoundError(StrCat("image ", image_id, " not found"));

  ImageVolume v;
  v.container_id = std::string(id);
  v.image_id = image->id;
  {
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(Statement next, db_->Prepare("SELECT COALESCE(MAX(position) + 1, 0) FROM image_volumes"
                                                  " WHERE container_id = ?"));
    ASSIGN_OR_RETURN(bool row, next.Bind(1, id).Step());
    if (!row) return absl::InternalError("image volume position: no result");
    v.index = static_cast<int>(next.Int(0));
    ASSIGN_OR_RETURN(Statement ins, db_->Prepare("INSERT INTO image_volumes(container_id, position, image_id)"
                                                 " VALUES(?, ?, ?)"));
    RETURN_IF_ERROR(ins.Bind(1, id).Bind(2, int64_t{v.index}).Bind(3, v.image_id).Run());
    RETURN_IF_ERROR(tx->Commit());
  }
  std::string dir = VolumeDir(c->dir, v.index);
  v.merged = dir + "/merged";
  absl::Cleanup forget = [&] {
    (void)UnmountAll(v.merged);
    (void)RemoveAll(dir);
    absl::StatusOr<Statement> del =
        db_->Prepare("DELETE FROM image_volumes WHERE container_id = ? AND position = ?");
    if (del.ok()) (void)del->Bind(1, id).Bind(2, int64_t{v.index}).Run();
  };
  RETURN_IF_ERROR(MakeDir(c->dir + "/image-volumes", 0711));
  RETURN_IF_ERROR(MakeDir(dir, 0711));
  RETURN_IF_ERROR(MakeDir(v.merged, 0755));
  RETURN_IF_ERROR(MakeDir(dir + "/lower-pad", 0755));
  ASSIGN_OR_RETURN(std::vector<std::string> lowers, ImageLowersLocked(v.image_id));
  lowers.push_back(dir + "/lower-pad");  // overlay needs two lowers without an upper
  ASSIGN_OR_RETURN(OverlayMountPlan plan,
                   PlanOverlayMount(Path("overlay"), v.merged, lowers, "", "", options_.mount_options));
  plan.flags = MS_NODEV | MS_NOSUID;
  if (!IsMountPoint(v.merged)) {
    absl::Status s = MountOverlayMapped(plan, idmap.uid_map, idmap.gid_map);
    if (!s.ok())
      return Annotate(s, StrCat("image volume ", v.index, " of container ", id, " (image ", v.image_id, ")"));
  }
  std::move(forget).Cancel();
  log::Debug(kComponent, "image volume mounted",
             {{"container", v.container_id}, {"image", v.image_id}, {"index", int64_t{v.index}}});
  return v;
}

absl::StatusOr<std::vector<ImageVolume>> Store::ListImageVolumes(std::string_view id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Statement q,
                   db_->Prepare("SELECT position, image_id FROM image_volumes WHERE container_id = ?"
                                " ORDER BY position"));
  q.Bind(1, id);
  std::vector<ImageVolume> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ImageVolume v;
    v.container_id = std::string(id);
    v.index = static_cast<int>(q.Int(0));
    v.image_id = q.Text(1);
    v.merged = VolumeDir(ContainerDir(id), v.index) + "/merged";
    out.push_back(std::move(v));
  }
  return out;
}

absl::Status Store::UnmountImageVolumesAt(const std::string& container_dir) {
  std::string volumes = container_dir + "/image-volumes";
  auto names = ListDir(volumes);
  if (!names.ok()) return absl::IsNotFound(names.status()) ? absl::OkStatus() : names.status();
  for (const std::string& n : *names) RETURN_IF_ERROR(UnmountAll(StrCat(volumes, "/", n, "/merged")));
  return absl::OkStatus();
}

}  // namespace cricket::storage
