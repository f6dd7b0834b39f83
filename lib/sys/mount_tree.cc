#include "lib/sys/mount_tree.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/clone.h"

namespace cricket::sys {

absl::StatusOr<UniqueFd> CloneMountTree(int dirfd, const std::string& path, bool recursive) {
  unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, dirfd, path.c_str(), flags)));
  if (!tree) return ErrnoError("clone the mount tree of", path);
  return tree;
}

absl::Status SetMountTreeAttributes(int tree, uint64_t attr_set, uint64_t attr_clr, int userns_fd,
                                    bool recursive, const std::string& what) {
  mount_attr attr{};
  attr.attr_set = attr_set;
  attr.attr_clr = attr_clr;
  if (userns_fd >= 0) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns_fd);
  }
  unsigned int flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, tree, "", flags, &attr, sizeof(attr)) != 0) {
    return ErrnoError(userns_fd >= 0 ? "make an idmapped mount of" : "set mount attributes of", what);
  }
  return absl::OkStatus();
}

absl::Status ProbeIdmappedMount(const std::string& path) {
  auto tree = CloneMountTree(AT_FDCWD, path, false);
  if (!tree.ok()) return absl::FailedPreconditionError(tree.status().message());
  auto userns = MakeUserNamespace({{0, 65536, 65536}}, {{0, 65536, 65536}});
  if (!userns.ok()) {
    return absl::FailedPreconditionError(
        StrCat("cannot create user namespaces: ", userns.status().message()));
  }
  absl::Status s = SetMountTreeAttributes(tree->get(), 0, 0, userns->get(), false, path);
  if (!s.ok()) return absl::FailedPreconditionError(s.message());
  return absl::OkStatus();
}

absl::Status ProbeRecursiveReadOnly(const std::string& path) {
  auto tree = CloneMountTree(AT_FDCWD, path, true);
  if (!tree.ok()) return absl::FailedPreconditionError(tree.status().message());
  absl::Status s = SetMountTreeAttributes(tree->get(), MOUNT_ATTR_RDONLY, 0, -1, true, path);
  if (!s.ok()) return absl::FailedPreconditionError(s.message());
  return absl::OkStatus();
}

}  // namespace cricket::sys
