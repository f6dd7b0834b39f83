#include "server/declared_volumes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/secure_path.h"
#include "server/user_namespace.h"

namespace cricket::server {
namespace {

// The owner a directory made for the container gets on disk: the container's ids, seen from the host
// when the pod has a user namespace (its rootfs upper and the bind sources hold host ids).
absl::Status OwnerOnDisk(const ContainerSpecInput& in, uint32_t uid, uint32_t gid, uid_t& host_uid,
                         gid_t& host_gid) {
  host_uid = uid;
  host_gid = gid;
  if (!in.sandbox.userns) return absl::OkStatus();
  std::optional<uint32_t> u = HostIdOf(in.sandbox.userns->uid_map, uid);
  std::optional<uint32_t> g = HostIdOf(in.sandbox.userns->gid_map, gid);
  if (!u || !g) {
    return absl::InvalidArgumentError(
        StrCat("the container's user ", uid, ":", gid, " is not mapped in the pod's user namespace"));
  }
  host_uid = *u;
  host_gid = *g;
  return absl::OkStatus();
}

// mkdir -p of `path` inside the rootfs, every component resolved inside it (a symlink in the image
// cannot point the directory at the host); a directory made here gets the container's owner.
absl::Status MkdirInRootfs(const std::string& rootfs, const std::string& path, uid_t uid, gid_t gid) {
  if (sys::OpenInRootDir(rootfs, path, O_PATH).ok()) return absl::OkStatus();  // the image has it
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoError("open rootfs", rootfs);
  int fd = sys::MkdirAllInRoot(sys::LinuxSys(), root.get(), path.c_str(), 0755);
  if (fd < 0) return ErrnoError(-fd, "make the image's volume directory", path);
  UniqueFd dir(fd);
  if (::fchownat(dir.get(), "", uid, gid, AT_EMPTY_PATH) != 0) {
    return ErrnoError("chown the image's volume directory", path);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AddDeclaredVolumes(const ContainerSpecInput& in, uint32_t uid, uint32_t gid,
                                std::vector<oci::Mount>& mounts) {
  const std::string& mode = in.daemon->image.image_volumes;
  if (mode == "ignore" || in.image->volumes.empty()) return absl::OkStatus();
  std::vector<std::string> cri_paths;
  for (const auto& m : in.config->mounts()) cri_paths.push_back(CleanPath(m.container_path()));
  uid_t host_uid;
  gid_t host_gid;
  RETURN_IF_ERROR(OwnerOnDisk(in, uid, gid, host_uid, host_gid));
  int n = 0;
  for (const std::string& declared : in.image->volumes) {
    if (declared.empty() || declared.front() != '/') {
      return absl::InvalidArgumentError(
          StrCat("the image declares volume \"", declared, "\", which is not an absolute path"));
    }
    std::string path = CleanPath(declared);
    if (path == "/") {
      return absl::InvalidArgumentError("the image declares a volume at /, which cannot be a volume");
    }
    if (std::find(cri_paths.begin(), cri_paths.end(), path) != cri_paths.end()) continue;
    if (mode == "mkdir") {
      RETURN_IF_ERROR(MkdirInRootfs(in.rootfs, path, host_uid, host_gid));
      continue;
    }
    // "bind" (Validate admits nothing else).
    if (in.declared_volumes_dir.empty()) {
      return absl::InternalError("image_volumes = \"bind\" needs the container's volumes directory");
    }
    std::string source = StrCat(in.declared_volumes_dir, "/", n++);
    RETURN_IF_ERROR(MkdirAll(source, 0755));
    if (::chown(source.c_str(), host_uid, host_gid) != 0) return ErrnoError("chown volume directory", source);
    oci::Mount bind;
    bind.destination = path;
    bind.type = "bind";
    bind.source = source;
    bind.options = {"rbind", "rw", "private", "nodev", "nosuid"};
    mounts.erase(std::remove_if(mounts.begin(), mounts.end(),
                                [&](const oci::Mount& m) { return CleanPath(m.destination) == path; }),
                 mounts.end());
    mounts.push_back(std::move(bind));
    log::Debug("container", "the image's volume is a directory of its own",
               {{"id", in.id}, {"path", path}, {"source", source}});
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
