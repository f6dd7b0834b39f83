// Sys: the syscall boundary used by code that must also be testable without root.
//
// The container init and the exec helper run between clone and execve in a child of a process that may
// be multithreaded, where only async-signal-safe work is allowed: every method here is a thin syscall
// with no allocation, no locks and no errno side channel. Results follow the kernel convention: a value
// >= 0 on success (an fd, a count or 0) and -errno on failure.
//
// LinuxSys is the real implementation (process-wide, stateless). FakeSys (fake_sys.h) records every call
// so that mount plans, namespace flags and credential sequences can be checked as data by unit tests.
#pragma once

#include <linux/filter.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace cricket::sys {

class Sys {
 public:
  virtual ~Sys() = default;

  // --- mounts
  virtual int Mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                    const char* data) = 0;
  virtual int Umount2(const char* target, int flags) = 0;
  virtual int OpenTree(int dirfd, const char* path, unsigned int flags) = 0;
  virtual int MoveMount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                        unsigned int flags) = 0;
  virtual int MountSetattr(int dirfd, const char* path, unsigned int flags, const mount_attr* attr) = 0;
  virtual int PivotRoot(const char* new_root, const char* put_old) = 0;
  virtual int Chroot(const char* path) = 0;
  virtual int Chdir(const char* path) = 0;
  virtual int Fchdir(int fd) = 0;
  // The raw getcwd(2): the path is prefixed "(unreachable)" when the cwd is outside the process root.
  virtual int Getcwd(char* buf, size_t size) = 0;

  // --- files
  // openat2(2) with `resolve` RESOLVE_* flags; mode only with O_CREAT.
  virtual int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) = 0;
  virtual int Openat(int dirfd, const char* path, int flags, mode_t mode) = 0;
  virtual int Close(int fd) = 0;
  virtual int Mkdirat(int dirfd, const char* path, mode_t mode) = 0;
  virtual int Mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) = 0;
  virtual int Symlinkat(const char* target, int dirfd, const char* linkpath) = 0;
  virtual int Fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) = 0;
  virtual int Fchmod(int fd, mode_t mode) = 0;
  virtual int Fstatat(int dirfd, const char* path, struct stat* st, int flags) = 0;
  virtual int Fstatfs(int fd, struct statfs* st) = 0;
  virtual int Faccessat(int dirfd, const char* path, int mode, int flags) = 0;
  // Returns the length of the link text (not NUL-terminated by the kernel).
  virtual long Readlinkat(int dirfd, const char* path, char* buf, size_t size) = 0;
  virtual long Read(int fd, void* buf, size_t len) = 0;
  virtual long Write(int fd, const void* buf, size_t len) = 0;
  virtual int Dup3(int oldfd, int newfd, int flags) = 0;
  // fcntl(F_DUPFD_CLOEXEC) with the lowest acceptable number.
  virtual int DupFdCloexec(int fd, int min_fd) = 0;
  virtual int SetCloexec(int fd, bool cloexec) = 0;
  virtual int CloseRange(unsigned int first, unsigned int last, unsigned int flags) = 0;
  virtual int Ioctl(int fd, unsigned long request, unsigned long arg) = 0;

  // --- namespaces and identity
  virtual int Setns(int fd, int nstype) = 0;
  virtual int Unshare(int flags) = 0;
  virtual int Sethostname(const char* name, size_t len) = 0;
  virtual int Setdomainname(const char* name, size_t len) = 0;
  // Raw syscalls, not the glibc wrappers: glibc broadcasts set*id to the threads it believes exist,
  // which in a clone3 child of a multithreaded process are the parent's threads.
  virtual int Setgroups(size_t size, const gid_t* list) = 0;
  virtual int Setresgid(gid_t rgid, gid_t egid, gid_t sgid) = 0;
  virtual int Setresuid(uid_t ruid, uid_t euid, uid_t suid) = 0;
  // capset(2) with a version-3 header for the calling thread; each mask covers capabilities 0..63.
  virtual int Capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) = 0;
  virtual int Prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) = 0;
  virtual int SeccompSetFilter(unsigned int flags, const sock_fprog* prog) = 0;
  virtual int Prlimit(pid_t pid, int resource, const struct rlimit* new_limit, struct rlimit* old) = 0;
  virtual mode_t Umask(mode_t mask) = 0;
  virtual int Setsid() = 0;
  virtual int Personality(unsigned long persona) = 0;
  virtual pid_t Getpid() = 0;
  // On success it does not return.
  virtual int Execve(const char* path, char* const argv[], char* const envp[]) = 0;
};

// The real kernel. Stateless; one instance serves every thread and child.
Sys& LinuxSys();

// Formats "/proc/self/fd/<fd>" into a fixed buffer without allocating: the path through which a mount
// can target a directory opened safely with openat2.
class FdPath {
 public:
  explicit FdPath(int fd);
  const char* c_str() const { return buf_; }

 private:
  char buf_[32];
};

// Async-signal-safe string helpers for the child side (no allocation, always NUL-terminated, truncating).
size_t SafeStrLen(const char* s);
// Appends `s` to the NUL-terminated `buf` of capacity `cap`; returns the new length.
size_t SafeAppend(char* buf, size_t cap, const char* s);
// Appends the decimal form of `v`.
size_t SafeAppendInt(char* buf, size_t cap, long long v);

}  // namespace cricket::sys
