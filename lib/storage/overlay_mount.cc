#include "lib/storage/overlay_mount.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

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
