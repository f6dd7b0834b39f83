#include "lib/storage/overlay_mount.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"
#include "lib/sys/clone.h"
#include "lib/sys/mount_tree.h"

namespace cricket::storage {

absl::StatusOr<OverlayMountPlan> PlanOverlayMount(const std::string& cwd, const std::string& target,
                                                  const std::vector<std::string>& lowers,
                                                  const std::string& upper, const std::string& work,
                                                  const std::vector<std::string>& extra) {
  OverlayMountPlan plan;
  plan.cwd = cwd;
  plan.target = target;
  plan.readonly = upper.empty();
  if (lowers.empty() || (plan.readonly && lowers.size() < 2)) {
    return absl::InvalidArgumentError("overlay mount: too few lower layers");
  }
  for (const std::string& l : lowers) {
    if (l.empty() || l.find_first_of(":,") != std::string::npos) {
      return absl::InvalidArgumentError(StrCat("overlay mount: unusable lower layer path \"", l, "\""));
    }
  }
  plan.lowers = lowers;
  plan.upper = upper;
  plan.work = work;
  plan.extra = extra;
  plan.data = StrCat("lowerdir=", Join(lowers, ":"));
  if (!plan.readonly) StrAppend(&plan.data, ",upperdir=", upper, ",workdir=", work);
  for (const std::string& o : extra) StrAppend(&plan.data, ",", o);
  long page = ::sysconf(_SC_PAGESIZE);
  if (static_cast<long>(plan.data.size()) >= page) {
    return absl::ResourceExhaustedError(StrCat("overlay mount options for ", lowers.size(), " layers are ",
                                               plan.data.size(), " bytes, over mount(2)'s limit of ",
                                               page - 1));
  }
  return plan;
}

absl::Status MountOverlay(const OverlayMountPlan& plan) {
  absl::Status result;
  std::thread t([&] {
    if (::unshare(CLONE_FS) != 0) {
      result = ErrnoError("unshare", "CLONE_FS");
      return;
    }
    if (::chdir(plan.cwd.c_str()) != 0) {
      result = ErrnoError("chdir", plan.cwd);
      return;
    }
    unsigned long flags = (plan.readonly ? MS_RDONLY : 0) | plan.flags;
    if (::mount("overlay", plan.target.c_str(), "overlay", flags, plan.data.c_str()) != 0) {
      result = ErrnoError("mount overlay on", plan.target);
    }
  });
  t.join();
  return result;
}

namespace {

// The messages overlayfs logged on a filesystem context ("e overlayfs: ..." lines), for errors.
std::string ContextLog(int fs) {
  std::string out;
  char buf[512];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(fs, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status FsConfig(int fs, unsigned int cmd, const char* key, const char* value, int aux,
                      const std::string& what) {
  if (::syscall(SYS_fsconfig, fs, cmd, key, value, aux) == 0) return absl::OkStatus();
  int err = errno;
  std::string log = ContextLog(fs);
  return ErrnoError(err, StrCat("overlay ", what, log.empty() ? "" : StrCat(" (", log, ")")), "");
}

// A new overlay context with `lowers` (top first, relative to `cwd_fd`) idmapped by `userns_fd`. The
// detached layer mounts are kept in `trees` until the overlay is created: overlayfs clones them then,
// and a detached mount whose last descriptor is closed is unmounted.
absl::StatusOr<UniqueFd> IdmappedOverlayContext(int cwd_fd, const std::vector<std::string>& lowers,
                                                int userns_fd, std::vector<UniqueFd>& trees) {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) return ErrnoError("open a filesystem context for", "overlay");
  for (const std::string& lower : lowers) {
    ASSIGN_OR_RETURN(UniqueFd tree, sys::CloneMountTree(cwd_fd, lower, false));
    RETURN_IF_ERROR(sys::SetMountTreeAttributes(tree.get(), 0, 0, userns_fd, false, lower));
    absl::Status s =
        FsConfig(fs.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, tree.get(), StrCat("lower layer ", lower));
    if (absl::IsInvalidArgument(s)) {
      return absl::FailedPreconditionError(
          StrCat(s.message(),
                 ": this kernel cannot take idmapped overlay layers as file descriptors"
                 " (Linux 6.13)"));
    }
    RETURN_IF_ERROR(s);
    trees.push_back(std::move(tree));
  }
  return fs;
}

}  // namespace

absl::Status MountIdmappedOverlay(const OverlayMountPlan& plan, int userns_fd) {
  UniqueFd cwd(::open(plan.cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cwd) return ErrnoError("open", plan.cwd);
  std::vector<UniqueFd> trees;
  ASSIGN_OR_RETURN(UniqueFd fs, IdmappedOverlayContext(cwd.get(), plan.lowers, userns_fd, trees));
  if (!plan.readonly) {
    for (const auto& [key, dir] : {std::pair<const char*, const std::string&>{"upperdir", plan.upper},
                                   std::pair<const char*, const std::string&>{"workdir", plan.work}}) {
      UniqueFd fd(::openat(cwd.get(), dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!fd) return ErrnoError("open", dir);
      RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_FD, key, nullptr, fd.get(), StrCat(key, " ", dir)));
    }
  }
  for (const std::string& o : plan.extra) {
    auto kv = SplitOnce(o, '=');
    std::string key(kv ? kv->first : o);
    absl::Status s =
        kv ? FsConfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), std::string(kv->second).c_str(), 0,
                      StrCat("option ", o))
           : FsConfig(fs.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0, StrCat("option ", o));
    RETURN_IF_ERROR(s);
  }
  RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0, "create"));
  unsigned int attrs = (plan.readonly ? MOUNT_ATTR_RDONLY : 0) |
                       ((plan.flags & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) |
                       ((plan.flags & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0);
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, attrs)));
  if (!mnt) return ErrnoError("make a mount of the overlay for", plan.target);
  if (::syscall(SYS_move_mount, mnt.get(), "", AT_FDCWD, plan.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoError("mount idmapped overlay on", plan.target);
  }
  return absl::OkStatus();
}

absl::Status MountOverlayMapped(const OverlayMountPlan& plan, const std::vector<sys::UidGidMapping>& uid_map,
                                const std::vector<sys::UidGidMapping>& gid_map) {
  if (uid_map.empty() && gid_map.empty()) return MountOverlay(plan);
  ASSIGN_OR_RETURN(UniqueFd userns, sys::MakeUserNamespace(uid_map, gid_map));
  return MountIdmappedOverlay(plan, userns.get());
}

absl::Status ProbeIdmappedOverlay(const std::string& dir) {
  auto userns = sys::MakeUserNamespace({{0, 65536, 65536}}, {{0, 65536, 65536}});
  if (!userns.ok()) {
    return absl::FailedPreconditionError(
        StrCat("cannot create user namespaces: ", userns.status().message()));
  }
  std::vector<UniqueFd> trees;
  auto fs = IdmappedOverlayContext(AT_FDCWD, {dir}, userns->get(), trees);
  if (!fs.ok()) {
    return absl::IsFailedPrecondition(fs.status()) ? fs.status()
                                                   : absl::FailedPreconditionError(fs.status().message());
  }
  return absl::OkStatus();
}

bool IsMountPoint(const std::string& path) {
  struct stat st, parent;
  if (::lstat(path.c_str(), &st) != 0 || ::lstat(DirName(path).c_str(), &parent) != 0) return false;
  return st.st_dev != parent.st_dev;
}

absl::Status UnmountAll(const std::string& path) {
  for (int i = 0; i < 16 && IsMountPoint(path); ++i) {
    if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return absl::OkStatus();
    if (errno != EBUSY) return ErrnoError("unmount", path);
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) return ErrnoError("detach", path);
  }
  if (IsMountPoint(path)) return absl::FailedPreconditionError(StrCat("unmount ", path, ": still mounted"));
  return absl::OkStatus();
}

}  // namespace cricket::storage
