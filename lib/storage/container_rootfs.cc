// Container root filesystems: per-container upper/work directories and the overlay mount. Part of
// Store (store.h).
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/storage/metadata_db.h"
#include "lib/storage/overlay_mount.h"
#include "lib/storage/store.h"
#include "lib/sys/disk_usage.h"

namespace cricket::storage {
namespace {

constexpr std::string_view kComponent = "storage";

absl::Status ValidateContainerId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 128 && id != "." && id != "..";
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) ok = false;
  }
  if (!ok) return absl::InvalidArgumentError(StrCat("invalid container id \"", id, "\""));
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path, mode_t mode, uid_t uid = 0, gid_t gid = 0, bool chown = false) {
  if (::mkdir(path.c_str(), mode) != 0) return ErrnoError("mkdir", path);
  if (::chmod(path.c_str(), mode) != 0) return ErrnoError("chmod", path);
  if (chown && ::lchown(path.c_str(), uid, gid) != 0) return ErrnoError("chown", path);
  return absl::OkStatus();
}

// The host id `id` maps to; nullopt when the maps leave it out.
std::optional<uint32_t> HostId(const std::vector<sys::UidGidMapping>& map, uint32_t id) {
  for (const sys::UidGidMapping& m : map) {
    if (id >= m.container_id && id - m.container_id < m.size) return m.host_id + (id - m.container_id);
  }
  return std::nullopt;
}

// The owner of the upper directory: the image root directory's, as the container's namespace maps it.
absl::Status MapOwner(const RootfsIdmap& idmap, struct stat& st) {
  if (idmap.empty()) return absl::OkStatus();
  std::optional<uint32_t> uid = HostId(idmap.uid_map, st.st_uid), gid = HostId(idmap.gid_map, st.st_gid);
  if (!uid || !gid) {
    return absl::InvalidArgumentError(StrCat("the image's root directory is owned by ", st.st_uid, ":",
                                             st.st_gid, ", which the user namespace does not map"));
  }
  st.st_uid = *uid;
  st.st_gid = *gid;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<ContainerRootfs>> Store::LoadContainerLocked(std::string_view id) {
  ASSIGN_OR_RETURN(Statement q,
                   db_->Prepare("SELECT id, image_id, readonly, created FROM containers WHERE id = ?"));
  ASSIGN_OR_RETURN(bool row, q.Bind(1, id).Step());
  if (!row) return std::optional<ContainerRootfs>();
  ContainerRootfs c;
  c.id = q.Text(0);
  c.image_id = q.Text(1);
  c.readonly = q.Int(2) != 0;
  c.created = q.Int(3);
  c.dir = ContainerDir(c.id);
  if (!c.readonly) c.upper = c.dir + "/upper";
  c.work = c.dir + "/work";
  c.merged = c.dir + "/merged";
  return std::optional<ContainerRootfs>(std::move(c));
}

// The directories come first and the record commits the rootfs: directories without a record (a crash
// in between) are removed by Recover.
absl::StatusOr<ContainerRootfs> Store::CreateContainerRootfs(std::string_view id, std::string_view image_id,
                                                             const RootfsOptions& options) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  absl::MutexLock l(&mu_);
  std::string full_id = image_id.starts_with("sha256:") ? std::string(image_id) : StrCat("sha256:", image_id);
  ASSIGN_OR_RETURN(std::optional<ImageInfo> image, LoadImageLocked(full_id));
  if (!image) return absl::NotFoundError(StrCat("image ", image_id, " not found"));
  ASSIGN_OR_RETURN(std::optional<ContainerRootfs> existing, LoadContainerLocked(id));
  if (existing) return absl::AlreadyExistsError(StrCat("container rootfs ", id, " already exists"));
  std::string dir = ContainerDir(id);
  RETURN_IF_ERROR(RemoveAll(dir));  // an unrecorded leftover
  absl::Cleanup remove_dir = [&] { (void)RemoveAll(dir); };
  RETURN_IF_ERROR(MakeDir(dir, 0711));
  // The merged root shows the upper directory's owner and mode: take them from the image's top layer.
  struct stat top = {};
  top.st_mode = 0755;
  if (!image->top_layer.empty()) {
    std::string top_dir = LayerDir(image->top_layer) + "/diff";
    if (::stat(top_dir.c_str(), &top) != 0) return ErrnoError("stat", top_dir);
  }
  RETURN_IF_ERROR(MapOwner(options.idmap, top));
  if (options.readonly) {
    RETURN_IF_ERROR(MakeDir(dir + "/lower-pad", 0755));
  } else {
    RETURN_IF_ERROR(MakeDir(dir + "/upper", top.st_mode & 07777, top.st_uid, top.st_gid, true));
    RETURN_IF_ERROR(MakeDir(dir + "/work", 0700));
  }
  RETURN_IF_ERROR(MakeDir(dir + "/merged", 0755));
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
  ASSIGN_OR_RETURN(
      Statement ins,
      db_->Prepare("INSERT INTO containers(id, image_id, readonly, created) VALUES(?, ?, ?, ?)"));
  RETURN_IF_ERROR(
      ins.Bind(1, id).Bind(2, image->id).Bind(3, int64_t{options.readonly}).Bind(4, RealtimeNow()).Run());
  RETURN_IF_ERROR(tx->Commit());
  std::move(remove_dir).Cancel();
  ASSIGN_OR_RETURN(std::optional<ContainerRootfs> c, LoadContainerLocked(id));
  if (!c) return absl::InternalError(StrCat("container rootfs ", id, " vanished after its commit"));
  return *c;
}

absl::StatusOr<std::string> Store::MountContainerRootfs(std::string_view id, const RootfsIdmap& idmap) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<ContainerRootfs> c, LoadContainerLocked(id));
  if (!c) return absl::NotFoundError(StrCat("container rootfs ", id, " not found"));
  if (IsMountPoint(c->merged)) return c->merged;
  ASSIGN_OR_RETURN(std::vector<std::string> lowers, ImageLowersLocked(c->image_id));
  if (c->readonly) lowers.push_back(c->dir + "/lower-pad");  // overlay needs two lowers without an upper
  ASSIGN_OR_RETURN(OverlayMountPlan plan, PlanOverlayMount(Path("overlay"), c->merged, lowers, c->upper,
                                                           c->work, options_.mount_options));
  absl::Status s = MountOverlayMapped(plan, idmap.uid_map, idmap.gid_map);
  if (!s.ok()) return Annotate(s, StrCat("container ", id, " (", lowers.size(), " layers)"));
  log::Debug(kComponent, "rootfs mounted",
             {{"container", std::string(id)}, {"layers", static_cast<int64_t>(lowers.size())}});
  return c->merged;
}

absl::Status Store::UnmountContainerRootfs(std::string_view id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  absl::MutexLock l(&mu_);
  return UnmountAll(ContainerDir(id) + "/merged");
}

absl::StatusOr<bool> Store::IsContainerRootfsMounted(std::string_view id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  return IsMountPoint(ContainerDir(id) + "/merged");
}

// Unmount, move the directories away, then delete the record: a crash in between leaves a record
// without directories, and a retried removal finishes it.
absl::Status Store::RemoveContainerRootfs(std::string_view id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::vector<std::string> trash;
  // Also when the record's deletion fails (a full disk): a record without directories is what a retry
  // expects, and the trash would otherwise stay until the next open.
  absl::Cleanup empty_trash = [&] { EmptyTrash(trash); };
  {
    absl::MutexLock l(&mu_);
    std::string dir = ContainerDir(id);
    RETURN_IF_ERROR(UnmountAll(dir + "/merged"));
    RETURN_IF_ERROR(UnmountImageVolumesAt(dir));
    RETURN_IF_ERROR(MoveToTrash(dir, &trash));
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM containers WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, id).Run());
    RETURN_IF_ERROR(tx->Commit());
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerRootfs> Store::GetContainerRootfs(std::string_view id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<ContainerRootfs> c, LoadContainerLocked(id));
  if (!c) return absl::NotFoundError(StrCat("container rootfs ", id, " not found"));
  return *c;
}

absl::StatusOr<std::vector<ContainerRootfs>> Store::ListContainerRootfs() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> ids;
  {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT id FROM containers ORDER BY created, id"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.Text(0));
    }
  }
  std::vector<ContainerRootfs> out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<ContainerRootfs> c, LoadContainerLocked(id));
    if (c) out.push_back(std::move(*c));
  }
  return out;
}

absl::StatusOr<Usage> Store::ContainerUsage(std::string_view id) {
  ASSIGN_OR_RETURN(ContainerRootfs c, GetContainerRootfs(id));
  if (c.readonly) return Usage{};
  ASSIGN_OR_RETURN(sys::DiskUsage u, sys::DirectoryUsage(c.upper));
  return Usage{u.bytes, u.inodes};
}

absl::Status Store::RecoverContainersLocked() {
  ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListDir(Path("overlay-containers")));
  for (const std::string& d : dirs) {
    ASSIGN_OR_RETURN(std::optional<ContainerRootfs> c, LoadContainerLocked(d));
    if (c) continue;
    std::string dir = ContainerDir(d);
    log::Info(kComponent, "removing unrecorded container rootfs directory", {{"dir", dir}});
    RETURN_IF_ERROR(UnmountAll(dir + "/merged"));
    RETURN_IF_ERROR(UnmountImageVolumesAt(dir));
    RETURN_IF_ERROR(RemoveAll(dir));
  }
  return absl::OkStatus();
}

}  // namespace cricket::storage
