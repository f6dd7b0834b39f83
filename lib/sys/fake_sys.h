// FakeSys: a recording Sys for unit tests. It keeps a tiny model of a filesystem (which paths exist and
// what they are) and of open fds (which path each stands for), returns success unless told otherwise,
// and records every call as one readable line, e.g.
//   mount("proc", </rootfs/proc>, "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, "")
// where </rootfs/proc> is the path behind a "/proc/self/fd/N" argument or an fd argument.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/sys/sys.h"

namespace cricket::sys {

class FakeSys : public Sys {
 public:
  FakeSys();

  // --- the model
  // Declares an existing path (absolute, as the fake sees it) of type S_IFDIR, S_IFREG, S_IFLNK, ...
  void AddPath(std::string_view path, mode_t type = S_IFDIR);
  // Declares a symlink (followed by Readlinkat only; the fake does not resolve symlinks in lookups).
  void AddSymlink(std::string_view path, std::string_view target);
  bool HasPath(std::string_view path) const;
  // Calls whose record contains `needle` fail with `err` (the first matching rule wins).
  void FailOn(std::string_view needle, int err);
  // The path an open fd stands for ("" when unknown).
  std::string FdName(int fd) const;

  // --- what happened
  const std::vector<std::string>& calls() const { return calls_; }
  // Records containing `needle`, in order.
  std::vector<std::string> CallsMatching(std::string_view needle) const;
  // Index of the first record containing `needle`, or -1.
  int IndexOf(std::string_view needle) const;
  std::string Dump() const;

  // Sys
  int Mount(const char* source, const char* target, const char* fstype, unsigned long flags,
            const char* data) override;
  int Umount2(const char* target, int flags) override;
  int OpenTree(int dirfd, const char* path, unsigned int flags) override;
  int MoveMount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                unsigned int flags) override;
  int MountSetattr(int dirfd, const char* path, unsigned int flags, const mount_attr* attr) override;
  int PivotRoot(const char* new_root, const char* put_old) override;
  int Chroot(const char* path) override;
  int Chdir(const char* path) override;
  int Fchdir(int fd) override;
  int Getcwd(char* buf, size_t size) override;
  int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) override;
  int Openat(int dirfd, const char* path, int flags, mode_t mode) override;
  int Close(int fd) override;
  int Mkdirat(int dirfd, const char* path, mode_t mode) override;
  int Mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) override;
  int Symlinkat(const char* target, int dirfd, const char* linkpath) override;
  int Fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) override;
  int Fchmod(int fd, mode_t mode) override;
  int Fstatat(int dirfd, const char* path, struct stat* st, int flags) override;
  int Fstatfs(int fd, struct statfs* st) override;
  int Faccessat(int dirfd, const char* path, int mode, int flags) override;
  long Readlinkat(int dirfd, const char* path, char* buf, size_t size) override;
  long Read(int fd, void* buf, size_t len) override;
  long Write(int fd, const void* buf, size_t len) override;
  int Dup3(int oldfd, int newfd, int flags) override;
  int DupFdCloexec(int fd, int min_fd) override;
  int SetCloexec(int fd, bool cloexec) override;
  int CloseRange(unsigned int first, unsigned int last, unsigned int flags) override;
  int Ioctl(int fd, unsigned long request, unsigned long arg) override;
  int Setns(int fd, int nstype) override;
  int Unshare(int flags) override;
  int Sethostname(const char* name, size_t len) override;
  int Setdomainname(const char* name, size_t len) override;
  int Setgroups(size_t size, const gid_t* list) override;
  int Setresgid(gid_t rgid, gid_t egid, gid_t sgid) override;
  int Setresuid(uid_t ruid, uid_t euid, uid_t suid) override;
  int Capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) override;
  int Prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) override;
  int SeccompSetFilter(unsigned int flags, const sock_fprog* prog) override;
  int Prlimit(pid_t pid, int resource, const struct rlimit* new_limit, struct rlimit* old) override;
  mode_t Umask(mode_t mask) override;
  int Setsid() override;
  int Personality(unsigned long persona) override;
  pid_t Getpid() override;
  int Execve(const char* path, char* const argv[], char* const envp[]) override;

  // Renders MS_* mount flags ("MS_BIND|MS_REC"), CLONE_NEW* flags and MOUNT_ATTR_* flags; exposed so
  // tests can build expectations the same way.
  static std::string MountFlagsName(unsigned long flags);
  static std::string CloneFlagsName(uint64_t flags);
  static std::string MountAttrName(uint64_t attr);

 private:
  // Records `line` and returns the injected error (negative) or 0.
  int Record(std::string line);
  int NewFd(std::string path);
  // "/proc/self/fd/N" → the fd's path in angle brackets; other strings quoted.
  std::string Target(const char* path) const;
  std::string FdArg(int fd) const;
  std::string Resolve(int dirfd, const char* path) const;

  std::vector<std::string> calls_;
  std::map<std::string, mode_t> paths_;
  std::map<std::string, std::string> links_;
  std::map<int, std::string> fds_;
  std::vector<std::pair<std::string, int>> failures_;
  int next_fd_ = 100;
  std::string cwd_ = "/";
};

}  // namespace cricket::sys
