#include "lib/sys/fake_sys.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

#include "lib/common/path_util.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

std::string Quote(const char* s) { return s == nullptr ? "NULL" : StrCat("\"", std::string_view(s), "\""); }

std::string Hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string FlagsName(uint64_t flags, std::initializer_list<std::pair<uint64_t, const char*>> names) {
  std::string out;
  for (const auto& [bit, name] : names) {
    if ((flags & bit) == bit && bit != 0) {
      if (!out.empty()) out += "|";
      out += name;
      flags &= ~bit;
    }
  }
  if (flags != 0) {
    if (!out.empty()) out += "|";
    out += Hex(flags);
  }
  return out.empty() ? "0" : out;
}

std::string PrctlName(int option) {
  switch (option) {
    case PR_SET_NO_NEW_PRIVS:
      return "PR_SET_NO_NEW_PRIVS";
    case PR_CAPBSET_DROP:
      return "PR_CAPBSET_DROP";
    case PR_CAP_AMBIENT:
      return "PR_CAP_AMBIENT";
    case PR_SET_KEEPCAPS:
      return "PR_SET_KEEPCAPS";
    case PR_SET_PDEATHSIG:
      return "PR_SET_PDEATHSIG";
    case PR_SET_DUMPABLE:
      return "PR_SET_DUMPABLE";
    default:
      return StrCat(option);
  }
}

}  // namespace

FakeSys::FakeSys() { paths_["/"] = S_IFDIR; }

void FakeSys::AddPath(std::string_view path, mode_t type) {
  std::string p = CleanPath(path);
  // Parents exist as directories.
  for (std::string d = DirName(p); d != "/" && !paths_.contains(d); d = DirName(d)) paths_[d] = S_IFDIR;
  paths_[p] = type;
}

void FakeSys::AddSymlink(std::string_view path, std::string_view target) {
  AddPath(path, S_IFLNK);
  links_[CleanPath(path)] = std::string(target);
}

bool FakeSys::HasPath(std::string_view path) const { return paths_.contains(CleanPath(path)); }

void FakeSys::FailOn(std::string_view needle, int err) { failures_.emplace_back(std::string(needle), err); }

std::string FakeSys::FdName(int fd) const {
  auto it = fds_.find(fd);
  return it == fds_.end() ? "" : it->second;
}

std::vector<std::string> FakeSys::CallsMatching(std::string_view needle) const {
  std::vector<std::string> out;
  for (const auto& c : calls_) {
    if (c.find(needle) != std::string::npos) out.push_back(c);
  }
  return out;
}

int FakeSys::IndexOf(std::string_view needle) const {
  for (size_t i = 0; i < calls_.size(); ++i) {
    if (calls_[i].find(needle) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

std::string FakeSys::Dump() const {
  std::string out;
  for (const auto& c : calls_) StrAppend(&out, c, "\n");
  return out;
}

int FakeSys::Record(std::string line) {
  calls_.push_back(line);
  for (const auto& [needle, err] : failures_) {
    if (line.find(needle) != std::string::npos) return -err;
  }
  return 0;
}

int FakeSys::NewFd(std::string path) {
  int fd = next_fd_++;
  fds_[fd] = std::move(path);
  return fd;
}

std::string FakeSys::FdArg(int fd) const {
  if (fd == AT_FDCWD) return "AT_FDCWD";
  auto it = fds_.find(fd);
  if (it == fds_.end()) return StrCat(fd);
  return StrCat("<", it->second, ">");
}

std::string FakeSys::Target(const char* path) const {
  if (path == nullptr) return "NULL";
  std::string_view p(path);
  constexpr std::string_view kPrefix = "/proc/self/fd/";
  if (p.starts_with(kPrefix)) {
    if (auto fd = ParseInt64(p.substr(kPrefix.size()))) return FdArg(static_cast<int>(*fd));
  }
  return Quote(path);
}

std::string FakeSys::Resolve(int dirfd, const char* path) const {
  std::string_view p(path);
  if (dirfd == AT_FDCWD) return p.starts_with("/") ? CleanPath(p) : JoinPath(cwd_, p);
  return JoinPath(FdName(dirfd), p);
}

std::string FakeSys::MountFlagsName(unsigned long flags) {
  return FlagsName(flags, {{MS_RDONLY, "MS_RDONLY"},
                           {MS_NOSUID, "MS_NOSUID"},
                           {MS_NODEV, "MS_NODEV"},
                           {MS_NOEXEC, "MS_NOEXEC"},
                           {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
                           {MS_REMOUNT, "MS_REMOUNT"},
                           {MS_MANDLOCK, "MS_MANDLOCK"},
                           {MS_DIRSYNC, "MS_DIRSYNC"},
                           {MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
                           {MS_NOATIME, "MS_NOATIME"},
                           {MS_NODIRATIME, "MS_NODIRATIME"},
                           {MS_BIND, "MS_BIND"},
                           {MS_MOVE, "MS_MOVE"},
                           {MS_REC, "MS_REC"},
                           {MS_SILENT, "MS_SILENT"},
                           {MS_UNBINDABLE, "MS_UNBINDABLE"},
                           {MS_PRIVATE, "MS_PRIVATE"},
                           {MS_SLAVE, "MS_SLAVE"},
                           {MS_SHARED, "MS_SHARED"},
                           {MS_RELATIME, "MS_RELATIME"},
                           {MS_STRICTATIME, "MS_STRICTATIME"},
                           {MS_LAZYTIME, "MS_LAZYTIME"}});
}

std::string FakeSys::CloneFlagsName(uint64_t flags) {
  return FlagsName(flags, {{CLONE_NEWNS, "CLONE_NEWNS"},
                           {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
                           {CLONE_NEWUTS, "CLONE_NEWUTS"},
                           {CLONE_NEWIPC, "CLONE_NEWIPC"},
                           {CLONE_NEWUSER, "CLONE_NEWUSER"},
                           {CLONE_NEWPID, "CLONE_NEWPID"},
                           {CLONE_NEWNET, "CLONE_NEWNET"},
                           {CLONE_NEWTIME, "CLONE_NEWTIME"},
                           {CLONE_PIDFD, "CLONE_PIDFD"},
                           {CLONE_PARENT, "CLONE_PARENT"},
                           {0x200000000ULL, "CLONE_INTO_CGROUP"}});
}

std::string FakeSys::MountAttrName(uint64_t attr) {
  return FlagsName(attr, {{MOUNT_ATTR_RDONLY, "RDONLY"},
                          {MOUNT_ATTR_NOSUID, "NOSUID"},
                          {MOUNT_ATTR_NODEV, "NODEV"},
                          {MOUNT_ATTR_NOEXEC, "NOEXEC"},
                          {MOUNT_ATTR_NOATIME, "NOATIME"},
                          {MOUNT_ATTR_STRICTATIME, "STRICTATIME"},
                          {MOUNT_ATTR_NODIRATIME, "NODIRATIME"},
                          {MOUNT_ATTR_IDMAP, "IDMAP"},
                          {MOUNT_ATTR_NOSYMFOLLOW, "NOSYMFOLLOW"}});
}

int FakeSys::Mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                   const char* data) {
  return Record(StrCat("mount(", Quote(source), ", ", Target(target), ", ", Quote(fstype), ", ",
                       MountFlagsName(flags), ", ", Quote(data), ")"));
}

int FakeSys::Umount2(const char* target, int flags) {
  return Record(StrCat("umount2(", Target(target), ", ", Hex(static_cast<unsigned>(flags)), ")"));
}

int FakeSys::OpenTree(int dirfd, const char* path, unsigned int flags) {
  std::string src = path[0] == '\0' ? FdName(dirfd) : Resolve(dirfd, path);
  int r = Record(StrCat("open_tree(", FdArg(dirfd), ", ", Quote(path), ", ",
                        (flags & AT_RECURSIVE) ? "recursive" : "single", ")"));
  if (r < 0) return r;
  if (!paths_.contains(src)) return -ENOENT;
  return NewFd(StrCat("tree:", src));
}

int FakeSys::MoveMount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                       unsigned int flags) {
  (void)flags;
  return Record(StrCat("move_mount(", FdArg(from_dirfd), Quote(from_path), " -> ", FdArg(to_dirfd),
                       Quote(to_path), ")"));
}

int FakeSys::MountSetattr(int dirfd, const char* path, unsigned int flags, const mount_attr* attr) {
  std::string prop;
  if (attr->propagation != 0) prop = StrCat(", propagation=", MountFlagsName(attr->propagation));
  return Record(StrCat(
      "mount_setattr(", FdArg(dirfd), Quote(path), ", ", (flags & AT_RECURSIVE) ? "recursive" : "single",
      ", set=", MountAttrName(attr->attr_set), ", clr=", MountAttrName(attr->attr_clr), prop, ")"));
}

int FakeSys::PivotRoot(const char* new_root, const char* put_old) {
  return Record(StrCat("pivot_root(", Quote(new_root), ", ", Quote(put_old), ")"));
}
int FakeSys::Chroot(const char* path) { return Record(StrCat("chroot(", Quote(path), ")")); }
int FakeSys::Chdir(const char* path) {
  int r = Record(StrCat("chdir(", Quote(path), ")"));
  if (r == 0) cwd_ = Resolve(AT_FDCWD, path);
  return r;
}
int FakeSys::Fchdir(int fd) {
  int r = Record(StrCat("fchdir(", FdArg(fd), ")"));
  if (r == 0) cwd_ = FdName(fd);
  return r;
}
int FakeSys::Getcwd(char* buf, size_t size) {
  int r = Record("getcwd()");
  if (r < 0) return r;
  if (cwd_.size() + 1 > size) return -ERANGE;
  memcpy(buf, cwd_.c_str(), cwd_.size() + 1);
  return static_cast<int>(cwd_.size() + 1);
}

int FakeSys::Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  (void)mode;
  std::string p = Resolve(dirfd, path);
  std::string res;
  if (resolve & RESOLVE_IN_ROOT) res += " in_root";
  if (resolve & RESOLVE_NO_SYMLINKS) res += " no_symlinks";
  int r = Record(StrCat("openat2(", FdArg(dirfd), ", ", Quote(path), res, ")"));
  if (r < 0) return r;
  auto it = paths_.find(p);
  if (it == paths_.end()) {
    if (!(flags & O_CREAT)) return -ENOENT;
    paths_[p] = S_IFREG;
  } else if ((resolve & RESOLVE_NO_SYMLINKS) && S_ISLNK(it->second)) {
    return -ELOOP;
  }
  return NewFd(p);
}

int FakeSys::Openat(int dirfd, const char* path, int flags, mode_t mode) {
  (void)mode;
  std::string p = Resolve(dirfd, path);
  int r = Record(StrCat("openat(", FdArg(dirfd), ", ", Quote(path), ")"));
  if (r < 0) return r;
  if (!paths_.contains(p)) {
    if (!(flags & O_CREAT)) return -ENOENT;
    paths_[p] = S_IFREG;
  }
  return NewFd(p);
}

int FakeSys::Close(int fd) {
  fds_.erase(fd);
  return 0;
}

int FakeSys::Mkdirat(int dirfd, const char* path, mode_t mode) {
  std::string p = Resolve(dirfd, path);
  int r = Record(StrCat("mkdirat(", FdArg(dirfd), ", ", Quote(path), ", 0", mode, ")"));
  if (r < 0) return r;
  if (paths_.contains(p)) return -EEXIST;
  paths_[p] = S_IFDIR;
  return 0;
}

int FakeSys::Mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  std::string p = Resolve(dirfd, path);
  char m[16];
  snprintf(m, sizeof(m), "0%o", mode & 07777);
  std::string type = S_ISCHR(mode) ? "c" : S_ISBLK(mode) ? "b" : S_ISFIFO(mode) ? "p" : "f";
  int r = Record(StrCat("mknodat(", FdArg(dirfd), ", ", Quote(path), ", ", type, " ", m, ", ", major(dev),
                        ":", minor(dev), ")"));
  if (r < 0) return r;
  if (paths_.contains(p)) return -EEXIST;
  paths_[p] = mode & S_IFMT;
  return 0;
}

int FakeSys::Symlinkat(const char* target, int dirfd, const char* linkpath) {
  std::string p = Resolve(dirfd, linkpath);
  int r = Record(StrCat("symlinkat(", Quote(target), ", ", FdArg(dirfd), ", ", Quote(linkpath), ")"));
  if (r < 0) return r;
  if (paths_.contains(p)) return -EEXIST;
  paths_[p] = S_IFLNK;
  return 0;
}

int FakeSys::Fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  (void)flags;
  return Record(StrCat("fchownat(", FdArg(dirfd), ", ", Quote(path), ", ", uid, ", ", gid, ")"));
}

int FakeSys::Fchmod(int fd, mode_t mode) {
  char m[16];
  snprintf(m, sizeof(m), "0%o", mode);
  return Record(StrCat("fchmod(", FdArg(fd), ", ", m, ")"));
}

int FakeSys::Fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  (void)flags;
  std::string p = path[0] == '\0' ? FdName(dirfd) : Resolve(dirfd, path);
  if (p.starts_with("tree:")) p = p.substr(5);
  auto it = paths_.find(p);
  if (it == paths_.end()) return -ENOENT;
  memset(st, 0, sizeof(*st));
  st->st_mode = it->second | 0755;
  return 0;
}

int FakeSys::Fstatfs(int fd, struct statfs* st) {
  (void)fd;
  memset(st, 0, sizeof(*st));
  return 0;
}

int FakeSys::Faccessat(int dirfd, const char* path, int mode, int flags) {
  (void)mode;
  (void)flags;
  std::string p = Resolve(dirfd, path);
  int r = Record(StrCat("faccessat(", FdArg(dirfd), ", ", Quote(path), ")"));
  if (r < 0) return r;
  return paths_.contains(p) ? 0 : -ENOENT;
}

long FakeSys::Readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  auto it = links_.find(Resolve(dirfd, path));
  if (it == links_.end()) return -EINVAL;
  size_t n = std::min(size, it->second.size());
  memcpy(buf, it->second.data(), n);
  return static_cast<long>(n);
}

long FakeSys::Read(int fd, void* buf, size_t len) {
  (void)buf;
  (void)len;
  return Record(StrCat("read(", FdArg(fd), ")"));
}

long FakeSys::Write(int fd, const void* buf, size_t len) {
  int r = Record(
      StrCat("write(", FdArg(fd), ", ", Quote(std::string(static_cast<const char*>(buf), len).c_str()), ")"));
  return r < 0 ? r : static_cast<long>(len);
}

int FakeSys::Dup3(int oldfd, int newfd, int flags) {
  (void)flags;
  int r = Record(StrCat("dup3(", FdArg(oldfd), ", ", newfd, ")"));
  if (r < 0) return r;
  fds_[newfd] = FdName(oldfd);
  return newfd;
}

int FakeSys::DupFdCloexec(int fd, int min_fd) {
  int r = Record(StrCat("dupfd(", FdArg(fd), ", >=", min_fd, ")"));
  if (r < 0) return r;
  int n = std::max(next_fd_, min_fd);
  next_fd_ = n + 1;
  fds_[n] = FdName(fd);
  return n;
}

int FakeSys::SetCloexec(int fd, bool cloexec) {
  return Record(StrCat("set_cloexec(", FdArg(fd), ", ", cloexec, ")"));
}

int FakeSys::CloseRange(unsigned int first, unsigned int last, unsigned int flags) {
  return Record(StrCat("close_range(", first, ", ", last == ~0U ? "~0" : StrCat(last), ", ", flags, ")"));
}

int FakeSys::Ioctl(int fd, unsigned long request, unsigned long arg) {
  return Record(StrCat("ioctl(", FdArg(fd), ", ", Hex(request), ", ", arg, ")"));
}

int FakeSys::Setns(int fd, int nstype) {
  return Record(StrCat("setns(", FdArg(fd), ", ", CloneFlagsName(static_cast<unsigned>(nstype)), ")"));
}
int FakeSys::Unshare(int flags) {
  return Record(StrCat("unshare(", CloneFlagsName(static_cast<unsigned>(flags)), ")"));
}
int FakeSys::Sethostname(const char* name, size_t len) {
  return Record(StrCat("sethostname(\"", std::string_view(name, len), "\")"));
}
int FakeSys::Setdomainname(const char* name, size_t len) {
  return Record(StrCat("setdomainname(\"", std::string_view(name, len), "\")"));
}
int FakeSys::Setgroups(size_t size, const gid_t* list) {
  std::vector<std::string> g;
  for (size_t i = 0; i < size; ++i) g.push_back(StrCat(list[i]));
  return Record(StrCat("setgroups([", Join(g, ","), "])"));
}
int FakeSys::Setresgid(gid_t rgid, gid_t egid, gid_t sgid) {
  return Record(StrCat("setresgid(", rgid, ", ", egid, ", ", sgid, ")"));
}
int FakeSys::Setresuid(uid_t ruid, uid_t euid, uid_t suid) {
  return Record(StrCat("setresuid(", ruid, ", ", euid, ", ", suid, ")"));
}
int FakeSys::Capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  return Record(
      StrCat("capset(eff=", Hex(effective), ", prm=", Hex(permitted), ", inh=", Hex(inheritable), ")"));
}
int FakeSys::Prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
  (void)a4;
  (void)a5;
  return Record(StrCat("prctl(", PrctlName(option), ", ", a2, ", ", a3, ")"));
}
int FakeSys::SeccompSetFilter(unsigned int flags, const sock_fprog* prog) {
  return Record(StrCat("seccomp(flags=", flags, ", len=", prog->len, ")"));
}
int FakeSys::Prlimit(pid_t pid, int resource, const struct rlimit* new_limit, struct rlimit* old) {
  if (old != nullptr) {
    old->rlim_cur = RLIM_INFINITY;
    old->rlim_max = RLIM_INFINITY;
  }
  if (new_limit == nullptr) return 0;
  return Record(
      StrCat("prlimit(", pid, ", ", resource, ", ", new_limit->rlim_cur, ", ", new_limit->rlim_max, ")"));
}
mode_t FakeSys::Umask(mode_t mask) {
  char m[16];
  snprintf(m, sizeof(m), "0%o", mask);
  Record(StrCat("umask(", m, ")"));
  return 022;
}
int FakeSys::Setsid() { return Record("setsid()"); }
int FakeSys::Personality(unsigned long persona) { return Record(StrCat("personality(", Hex(persona), ")")); }
pid_t FakeSys::Getpid() { return 1; }
int FakeSys::Execve(const char* path, char* const argv[], char* const envp[]) {
  std::vector<std::string> a, e;
  for (int i = 0; argv[i] != nullptr; ++i) a.push_back(argv[i]);
  for (int i = 0; envp[i] != nullptr; ++i) e.push_back(envp[i]);
  int r = Record(StrCat("execve(", Quote(path), ", [", Join(a, " "), "], [", Join(e, " "), "])"));
  return r < 0 ? r : -ENOSYS;  // a fake cannot replace the process; callers treat any return as failure
}

}  // namespace cricket::sys
