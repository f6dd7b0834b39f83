// Child side: the root filesystem steps of the container init (see init_child.h for the rules).
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "lib/runtime/child_util.h"
#include "lib/runtime/init_child.h"
#include "lib/sys/secure_path.h"

namespace cricket::runtime {
namespace child {

bool SplitPath(const char* path, char* dir, size_t dir_cap, char* base, size_t base_cap) {
  size_t n = sys::SafeStrLen(path);
  while (n > 1 && path[n - 1] == '/') --n;
  size_t slash = n;
  while (slash > 0 && path[slash - 1] != '/') --slash;
  if (slash == n || n - slash + 1 > base_cap || slash + 1 > dir_cap) return false;
  for (size_t k = slash; k < n; ++k) base[k - slash] = path[k];
  base[n - slash] = '\0';
  size_t d = slash;
  while (d > 1 && path[d - 1] == '/') --d;
  for (size_t k = 0; k < d; ++k) dir[k] = path[k];
  dir[d] = '\0';
  if (d == 0) {
    dir[0] = '/';
    dir[1] = '\0';
  }
  return true;
}

}  // namespace child

namespace {

using child::Fail;
using child::FailR;

uint64_t ResolveFlags(const MountStep& s) { return s.no_symlinks ? RESOLVE_NO_SYMLINKS : 0; }

int DoMount(const MountStep& s, sys::Sys& sys, int sync_fd, int root_fd) {
  int tfd = sys::EnsureMountTargetInRoot(sys, root_fd, s.target.c_str(), s.target_is_file, ResolveFlags(s));
  if (tfd < 0) return FailR(sync_fd, tfd, "create mount target", s.target.c_str());
  int r = sys.Mount(s.source.c_str(), sys::FdPath(tfd).c_str(), s.fstype.c_str(), s.flags,
                    s.data.empty() ? nullptr : s.data.c_str());
  sys.Close(tfd);
  if (r < 0) {
    char what[96] = "mount ";
    sys::SafeAppend(what, sizeof(what), s.fstype.c_str());
    sys::SafeAppend(what, sizeof(what), " on");
    return FailR(sync_fd, r, what, s.target.c_str());
  }
  if (s.propagation != 0) {
    tfd = sys::OpenInRoot(sys, root_fd, s.target.c_str(), O_PATH, ResolveFlags(s));
    if (tfd < 0) return FailR(sync_fd, tfd, "open mount", s.target.c_str());
    r = sys.Mount(nullptr, sys::FdPath(tfd).c_str(), nullptr, s.propagation, nullptr);
    sys.Close(tfd);
    if (r < 0) return FailR(sync_fd, r, "set propagation of", s.target.c_str());
  }
  return 0;
}

// Attaches a detached mount tree `tree` at `target` (created as a file or directory to match).
int AttachTree(sys::Sys& sys, int sync_fd, int root_fd, int tree, const char* target, uint64_t resolve) {
  struct stat st;
  int r = sys.Fstatat(tree, "", &st, AT_EMPTY_PATH);
  if (r < 0) return FailR(sync_fd, r, "stat bind source for", target);
  int tfd = sys::EnsureMountTargetInRoot(sys, root_fd, target, !S_ISDIR(st.st_mode), resolve);
  if (tfd < 0) return FailR(sync_fd, tfd, "create mount target", target);
  r = sys.MoveMount(tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  sys.Close(tfd);
  if (r < 0) return FailR(sync_fd, r, "attach bind mount on", target);
  return 0;
}

int DoBind(const MountStep& s, const RootfsPlan& plan, sys::Sys& sys, int sync_fd, int root_fd) {
  if (s.tree_fd >= 0) return AttachTree(sys, sync_fd, root_fd, s.tree_fd, s.target.c_str(), ResolveFlags(s));
  const char* what = nullptr;
  const char* object = nullptr;
  int tree = MakeBindTree(s, plan, sys, &what, &object);
  if (tree < 0) return FailR(sync_fd, tree, what, object);
  int r = AttachTree(sys, sync_fd, root_fd, tree, s.target.c_str(), ResolveFlags(s));
  sys.Close(tree);
  return r;
}

int DoOnExisting(const MountStep& s, sys::Sys& sys, int sync_fd, int root_fd) {
  int tfd = sys::OpenInRoot(sys, root_fd, s.target.c_str(), O_PATH, ResolveFlags(s));
  if (tfd < 0) return FailR(sync_fd, tfd, "open mount", s.target.c_str());
  int r =
      s.kind == MountStep::Kind::kPropagation
          ? sys.Mount(nullptr, sys::FdPath(tfd).c_str(), nullptr, s.propagation, nullptr)
          : sys.Mount(nullptr, sys::FdPath(tfd).c_str(), nullptr, MS_REMOUNT | MS_BIND | s.flags, nullptr);
  sys.Close(tfd);
  if (r < 0)
    return FailR(sync_fd, r, s.kind == MountStep::Kind::kPropagation ? "set propagation of" : "remount",
                 s.target.c_str());
  return 0;
}

int DoSymlink(const MountStep& s, sys::Sys& sys, int sync_fd, int root_fd) {
  char dir[4096], base[256];
  if (!child::SplitPath(s.target.c_str(), dir, sizeof(dir), base, sizeof(base))) {
    return Fail(sync_fd, EINVAL, "symlink", s.target.c_str());
  }
  int dfd = sys::MkdirAllInRoot(sys, root_fd, dir, 0755);
  if (dfd < 0) return FailR(sync_fd, dfd, "create directory for", s.target.c_str());
  int r = sys.Symlinkat(s.source.c_str(), dfd, base);
  sys.Close(dfd);
  if (r < 0 && r != -EEXIST) return FailR(sync_fd, r, "symlink", s.target.c_str());
  return 0;
}

int BindHostDevice(const MountStep& s, sys::Sys& sys, int sync_fd, int root_fd) {
  int tree = sys.OpenTree(AT_FDCWD, s.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) return FailR(sync_fd, tree, "bind host device", s.source.c_str());
  int r = AttachTree(sys, sync_fd, root_fd, tree, s.target.c_str(), RESOLVE_NO_SYMLINKS);
  sys.Close(tree);
  return r;
}

int DoDevice(const MountStep& s, sys::Sys& sys, int sync_fd, int root_fd) {
  if (s.bind_device) return BindHostDevice(s, sys, sync_fd, root_fd);
  char dir[4096], base[256];
  if (!child::SplitPath(s.target.c_str(), dir, sizeof(dir), base, sizeof(base))) {
    return Fail(sync_fd, EINVAL, "create device", s.target.c_str());
  }
  int dfd = sys::MkdirAllInRoot(sys, root_fd, dir, 0755, RESOLVE_NO_SYMLINKS);
  if (dfd < 0) return FailR(sync_fd, dfd, "create directory for device", s.target.c_str());
  int r = sys.Mknodat(dfd, base, s.mode, s.dev);
  if (r == -EPERM && !s.source.empty()) {
    sys.Close(dfd);
    return BindHostDevice(s, sys, sync_fd, root_fd);
  }
  if (r < 0 && r != -EEXIST) {
    sys.Close(dfd);
    return FailR(sync_fd, r, "mknod", s.target.c_str());
  }
  if (r == 0) {
    r = sys.Fchownat(dfd, base, s.uid, s.gid, AT_SYMLINK_NOFOLLOW);
    if (r < 0) {
      sys.Close(dfd);
      return FailR(sync_fd, r, "chown device", s.target.c_str());
    }
  }
  sys.Close(dfd);
  return 0;
}

int ApplyStep(const MountStep& s, const RootfsPlan& plan, sys::Sys& sys, int sync_fd, int root_fd) {
  switch (s.kind) {
    case MountStep::Kind::kMount:
      return DoMount(s, sys, sync_fd, root_fd);
    case MountStep::Kind::kBind:
      return DoBind(s, plan, sys, sync_fd, root_fd);
    case MountStep::Kind::kPropagation:
    case MountStep::Kind::kRemount:
      return DoOnExisting(s, sys, sync_fd, root_fd);
    case MountStep::Kind::kSymlink:
      return DoSymlink(s, sys, sync_fd, root_fd);
    case MountStep::Kind::kDevice:
      return DoDevice(s, sys, sync_fd, root_fd);
    case MountStep::Kind::kMkdir: {
      int fd = sys::MkdirAllInRoot(sys, root_fd, s.target.c_str(), 0755, ResolveFlags(s));
      if (fd < 0) return FailR(sync_fd, fd, "mkdir", s.target.c_str());
      sys.Close(fd);
      return 0;
    }
  }
  return Fail(sync_fd, EINVAL, "unknown mount step for", s.target.c_str());
}

int EnterRoot(const InitPlan& plan, sys::Sys& sys, int sync_fd, int root_fd) {
  const RootfsPlan& rp = plan.rootfs;
  int r = sys.Fchdir(root_fd);
  if (r < 0) return FailR(sync_fd, r, "chdir to rootfs", rp.rootfs.c_str());
  if (plan.ns.shares_host_mount_ns) {
    // pivot_root or MS_MOVE would change the host's own root: confine with chroot only.
    r = sys.Chroot(".");
    if (r < 0) return FailR(sync_fd, r, "chroot to", rp.rootfs.c_str());
  } else if (rp.no_pivot) {
    // An attached rootfs tree is already on "/".
    r = rp.root_tree_fd >= 0 ? 0 : sys.Mount(rp.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr);
    if (r < 0) return FailR(sync_fd, r, "move rootfs to /", rp.rootfs.c_str());
    r = sys.Chroot(".");
    if (r < 0) return FailR(sync_fd, r, "chroot to", rp.rootfs.c_str());
  } else {
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the new.
    // With a shared "/" the old root's mounts are peers of the host's, and detaching them would unmount
    // the host's copies too: they become slaves first. The old root is reached through a descriptor
    // opened before pivot_root ("." would name the new root for mount(2)); /proc/self/fd of the
    // container's /proc resolves it.
    const bool shared = (rp.host_propagation & MS_SHARED) != 0;
    int old_root = shared ? sys.Openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0) : -1;
    if (shared && old_root < 0) return FailR(sync_fd, old_root, "open the old root", "/");
    r = sys.PivotRoot(".", ".");
    if (r < 0) {
      if (old_root >= 0) sys.Close(old_root);
      return FailR(sync_fd, r, "pivot_root to", rp.rootfs.c_str());
    }
    if (shared) {
      r = sys.Mount(nullptr, sys::FdPath(old_root).c_str(), nullptr, MS_SLAVE | MS_REC, nullptr);
      sys.Close(old_root);
      if (r < 0) return FailR(sync_fd, r, "make the old root a slave (a shared rootfs needs /proc)", nullptr);
    }
    r = sys.Umount2(".", MNT_DETACH);
    if (r < 0) return FailR(sync_fd, r, "detach old root after pivot_root", nullptr);
  }
  r = sys.Chdir("/");
  if (r < 0) return FailR(sync_fd, r, "chdir to", "/");
  return 0;
}

}  // namespace

int MakeBindTree(const MountStep& s, const RootfsPlan& plan, sys::Sys& sys, const char** what,
                 const char** object) {
  *object = s.target.c_str();
  int tree = sys.OpenTree(AT_FDCWD, s.source.c_str(),
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (s.recursive ? AT_RECURSIVE : 0));
  if (tree < 0) {
    *what = "bind mount source";
    *object = s.source.c_str();
    return tree;
  }
  const bool ridmap = s.idmap_index >= 0 && s.idmap_recursive;
  const bool idmap = s.idmap_index >= 0 && !s.idmap_recursive;
  const int userns_fd = s.idmap_index >= 0 ? plan.idmap_userns_fds[static_cast<size_t>(s.idmap_index)] : -1;
  // Recursive attributes first, then the top mount's own, then the propagation.
  struct Pass {
    bool wanted;
    uint64_t set, clr;
    bool with_idmap;
    unsigned int flags;
    const char* what;
  } passes[] = {
      {s.rattr_set != 0 || s.rattr_clr != 0 || ridmap, s.rattr_set, s.rattr_clr, ridmap,
       AT_EMPTY_PATH | AT_RECURSIVE, "set mount attributes of bind mount on"},
      {s.attr_set != 0 || s.attr_clr != 0 || idmap, s.attr_set, s.attr_clr, idmap, AT_EMPTY_PATH,
       "set mount attributes of bind mount on"},
  };
  for (const Pass& p : passes) {
    if (!p.wanted) continue;
    mount_attr attr{};
    attr.attr_set = p.set;
    attr.attr_clr = p.clr;
    if (p.with_idmap) {
      attr.attr_set |= MOUNT_ATTR_IDMAP;
      attr.userns_fd = static_cast<uint64_t>(userns_fd);
    }
    int r = sys.MountSetattr(tree, "", p.flags, &attr);
    if (r < 0) {
      sys.Close(tree);
      *what = p.with_idmap ? "make an idmapped bind mount on" : p.what;
      return r;
    }
  }
  if (s.propagation != 0) {
    mount_attr attr{};
    attr.propagation = s.propagation & ~static_cast<unsigned long>(MS_REC);
    int r = sys.MountSetattr(tree, "", AT_EMPTY_PATH | ((s.propagation & MS_REC) ? AT_RECURSIVE : 0), &attr);
    if (r < 0) {
      sys.Close(tree);
      *what = "set propagation of bind mount on";
      return r;
    }
  }
  return tree;
}

int SetupRootfs(const InitPlan& plan, sys::Sys& sys, int sync_fd, bool wait_joined) {
  const RootfsPlan& rp = plan.rootfs;
  int r;
  if (!plan.ns.shares_host_mount_ns && rp.host_propagation != 0) {
    r = sys.Mount(nullptr, "/", nullptr, rp.host_propagation, nullptr);
    if (r < 0) return FailR(sync_fd, r, "set the propagation of /", nullptr);
  }
  for (const std::string& candidate : rp.rootfs_mount_candidates) {
    r = sys.Mount(nullptr, candidate.c_str(), nullptr, MS_PRIVATE, nullptr);
    if (r == 0) break;
    if (r != -EINVAL)
      return FailR(sync_fd, r, "make the mount holding the rootfs private", candidate.c_str());
  }
  int root_fd;
  if (rp.root_tree_fd >= 0) {
    // The runtime's copy of the rootfs is attached over "/" (nothing propagates to the host: "/" is a
    // slave, or made private first when shared) and pivoted into through its descriptor.
    if (!rp.rootfs_mount_candidates.empty() &&
        (r = sys.Mount(nullptr, "/", nullptr, MS_PRIVATE, nullptr)) < 0) {
      return FailR(sync_fd, r, "make / private to attach the rootfs", nullptr);
    }
    r = sys.MoveMount(rp.root_tree_fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH);
    if (r < 0) return FailR(sync_fd, r, "attach the rootfs", rp.rootfs.c_str());
    root_fd = rp.root_tree_fd;
  } else {
    // The rootfs must be a mount point for pivot_root, and a bind mount keeps the original untouched.
    r = sys.Mount(rp.rootfs.c_str(), rp.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
    if (r < 0) return FailR(sync_fd, r, "bind mount rootfs", rp.rootfs.c_str());
    root_fd = sys.Openat(AT_FDCWD, rp.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (root_fd < 0) return FailR(sync_fd, root_fd, "open rootfs", rp.rootfs.c_str());
  }
  for (const MountStep& s : rp.steps) {
    r = ApplyStep(s, rp, sys, sync_fd, root_fd);
    if (r < 0) {
      sys.Close(root_fd);
      return r;
    }
  }
  if (!rp.cwd.empty()) {
    int fd = sys::MkdirAllInRoot(sys, root_fd, rp.cwd.c_str(), 0755);
    if (fd < 0) {
      sys.Close(root_fd);
      return FailR(sync_fd, fd, "create working directory", rp.cwd.c_str());
    }
    sys.Close(fd);
  }
  if (plan.hook_point) {
    r = wait_joined ? SyncWaitFor(sync_fd, SyncType::kJoined) : 0;
    if (r == 0) r = SyncSend(sync_fd, SyncType::kHookPoint);
    if (r == 0) r = SyncWaitContinue(sync_fd);
    if (r < 0) {
      sys.Close(root_fd);
      return r;
    }
  }
  r = EnterRoot(plan, sys, sync_fd, root_fd);
  sys.Close(root_fd);
  return r;
}

namespace child {

int OpenConsole(sys::Sys& sys, int sync_fd, bool bind_console, int* slave) {
  int master = sys.Openat(AT_FDCWD, "/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (master == -ENOENT) master = sys.Openat(AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (master < 0) return FailR(sync_fd, master, "open", "/dev/pts/ptmx");
  int unlock = 0;
  int r = sys.Ioctl(master, TIOCSPTLCK, reinterpret_cast<unsigned long>(&unlock));
  if (r < 0) {
    sys.Close(master);
    return FailR(sync_fd, r, "unlock pty", nullptr);
  }
  int s = sys.Ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    sys.Close(master);
    return FailR(sync_fd, s, "open pty slave", nullptr);
  }
  if (bind_console) {
    unsigned int n = 0;
    r = sys.Ioctl(master, TIOCGPTN, reinterpret_cast<unsigned long>(&n));
    char pts[64] = "/dev/pts/";
    sys::SafeAppendInt(pts, sizeof(pts), n);
    int tree = r < 0 ? r : sys.OpenTree(AT_FDCWD, pts, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree >= 0) {
      int fd = sys.Openat(AT_FDCWD, "/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0) sys.Close(fd);
      int tfd = sys.Openat(AT_FDCWD, "/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      r = tfd < 0 ? tfd : sys.MoveMount(tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
      if (tfd >= 0) sys.Close(tfd);
      sys.Close(tree);
    } else {
      r = tree;
    }
    if (r < 0) {
      sys.Close(master);
      sys.Close(s);
      return FailR(sync_fd, r, "bind pty to", "/dev/console");
    }
  }
  r = SyncSend(sync_fd, SyncType::kConsole, 0, nullptr, nullptr, master);
  sys.Close(master);
  if (r < 0) {
    sys.Close(s);
    return r;
  }
  *slave = s;
  return 0;
}

}  // namespace child

namespace {

int WriteSysctls(const RootfsPlan& rp, sys::Sys& sys, int sync_fd) {
  for (const Sysctl& s : rp.sysctls) {
    int fd = sys.Openat(AT_FDCWD, s.path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) return FailR(sync_fd, fd, "open sysctl", s.path.c_str());
    long n = sys.Write(fd, s.value.data(), s.value.size());
    sys.Close(fd);
    if (n < 0) return FailR(sync_fd, static_cast<int>(n), "write sysctl", s.path.c_str());
  }
  return 0;
}

int MakeReadonly(const char* path, sys::Sys& sys, int sync_fd) {
  int tree = sys.OpenTree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree == -ENOENT) return 0;
  if (tree < 0) return FailR(sync_fd, tree, "bind read-only path", path);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  int r = sys.MountSetattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr);
  int tfd = r < 0 ? r : sys.Openat(AT_FDCWD, path, O_PATH | O_CLOEXEC, 0);
  if (tfd >= 0) {
    r = sys.MoveMount(tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    sys.Close(tfd);
  } else {
    r = tfd;
  }
  sys.Close(tree);
  if (r < 0) return FailR(sync_fd, r, "make read-only", path);
  return 0;
}

int Mask(const char* path, sys::Sys& sys, int sync_fd) {
  int fd = sys.Openat(AT_FDCWD, path, O_PATH | O_CLOEXEC, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return FailR(sync_fd, fd, "open masked path", path);
  struct stat st;
  int r = sys.Fstatat(fd, "", &st, AT_EMPTY_PATH);
  if (r >= 0 && S_ISDIR(st.st_mode)) {
    r = sys.Mount("tmpfs", sys::FdPath(fd).c_str(), "tmpfs", MS_RDONLY, "size=0k");
  } else if (r >= 0) {
    int tree = sys.OpenTree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    r = tree < 0 ? tree : sys.MoveMount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (tree >= 0) sys.Close(tree);
  }
  sys.Close(fd);
  if (r < 0) return FailR(sync_fd, r, "mask", path);
  return 0;
}

}  // namespace

int FinishRootfs(const InitPlan& plan, sys::Sys& sys, int sync_fd, int* console_slave) {
  const RootfsPlan& rp = plan.rootfs;
  *console_slave = -1;
  int r;
  if (rp.rootfs_propagation != 0 && !plan.ns.shares_host_mount_ns) {
    r = sys.Mount(nullptr, "/", nullptr, rp.rootfs_propagation, nullptr);
    if (r < 0) return FailR(sync_fd, r, "set rootfs propagation", nullptr);
  }
  if (plan.process.terminal) {
    r = child::OpenConsole(sys, sync_fd, rp.console, console_slave);
    if (r < 0) return r;
  }
  if ((r = WriteSysctls(rp, sys, sync_fd)) < 0) return r;
  for (const std::string& p : rp.readonly_paths) {
    if ((r = MakeReadonly(p.c_str(), sys, sync_fd)) < 0) return r;
  }
  for (const std::string& p : rp.masked_paths) {
    if ((r = Mask(p.c_str(), sys, sync_fd)) < 0) return r;
  }
  if (rp.readonly_root) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    r = sys.MountSetattr(AT_FDCWD, "/", 0, &attr);
    if (r < 0) return FailR(sync_fd, r, "make the root filesystem read-only", nullptr);
  }
  if (rp.set_hostname && (r = sys.Sethostname(rp.hostname.data(), rp.hostname.size())) < 0) {
    return FailR(sync_fd, r, "set hostname", rp.hostname.c_str());
  }
  if (rp.set_domainname && (r = sys.Setdomainname(rp.domainname.data(), rp.domainname.size())) < 0) {
    return FailR(sync_fd, r, "set domainname", rp.domainname.c_str());
  }
  return 0;
}

}  // namespace cricket::runtime
