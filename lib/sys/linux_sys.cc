// The real Sys: each method is one system call, returning -errno on failure.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "lib/sys/sys.h"

namespace cricket::sys {
namespace {

inline int Ret(long r) { return r < 0 ? -errno : static_cast<int>(r); }

class RealSys final : public Sys {
 public:
  int Mount(const char* source, const char* target, const char* fstype, unsigned long flags,
            const char* data) override {
    return Ret(::mount(source, target, fstype, flags, data));
  }
  int Umount2(const char* target, int flags) override { return Ret(::umount2(target, flags)); }
  int OpenTree(int dirfd, const char* path, unsigned int flags) override {
    return Ret(::syscall(SYS_open_tree, dirfd, path, flags));
  }
  int MoveMount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                unsigned int flags) override {
    return Ret(::syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
  }
  int MountSetattr(int dirfd, const char* path, unsigned int flags, const mount_attr* attr) override {
    return Ret(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof(*attr)));
  }
  int PivotRoot(const char* new_root, const char* put_old) override {
    return Ret(::syscall(SYS_pivot_root, new_root, put_old));
  }
  int Chroot(const char* path) override { return Ret(::chroot(path)); }
  int Chdir(const char* path) override { return Ret(::chdir(path)); }
  int Fchdir(int fd) override { return Ret(::fchdir(fd)); }
  int Getcwd(char* buf, size_t size) override { return Ret(::syscall(SYS_getcwd, buf, size)); }

  int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) override {
    open_how how{};
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return Ret(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
  }
  int Openat(int dirfd, const char* path, int flags, mode_t mode) override {
    return Ret(::openat(dirfd, path, flags, mode));
  }
  int Close(int fd) override { return Ret(::close(fd)); }
  int Mkdirat(int dirfd, const char* path, mode_t mode) override { return Ret(::mkdirat(dirfd, path, mode)); }
  int Mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) override {
    return Ret(::mknodat(dirfd, path, mode, dev));
  }
  int Symlinkat(const char* target, int dirfd, const char* linkpath) override {
    return Ret(::symlinkat(target, dirfd, linkpath));
  }
  int Fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) override {
    return Ret(::fchownat(dirfd, path, uid, gid, flags));
  }
  int Fchmod(int fd, mode_t mode) override { return Ret(::fchmod(fd, mode)); }
  int Fstatat(int dirfd, const char* path, struct stat* st, int flags) override {
    return Ret(::fstatat(dirfd, path, st, flags));
  }
  int Fstatfs(int fd, struct statfs* st) override { return Ret(::fstatfs(fd, st)); }
  int Faccessat(int dirfd, const char* path, int mode, int flags) override {
    return Ret(::syscall(SYS_faccessat2, dirfd, path, mode, flags));
  }
  long Readlinkat(int dirfd, const char* path, char* buf, size_t size) override {
    long r = ::readlinkat(dirfd, path, buf, size);
    return r < 0 ? -errno : r;
  }
  long Read(int fd, void* buf, size_t len) override {
    long r = ::read(fd, buf, len);
    return r < 0 ? -errno : r;
  }
  long Write(int fd, const void* buf, size_t len) override {
    long r = ::write(fd, buf, len);
    return r < 0 ? -errno : r;
  }
  int Dup3(int oldfd, int newfd, int flags) override { return Ret(::dup3(oldfd, newfd, flags)); }
  int DupFdCloexec(int fd, int min_fd) override { return Ret(::fcntl(fd, F_DUPFD_CLOEXEC, min_fd)); }
  int SetCloexec(int fd, bool cloexec) override {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) return -errno;
    flags = cloexec ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    return Ret(::fcntl(fd, F_SETFD, flags));
  }
  int CloseRange(unsigned int first, unsigned int last, unsigned int flags) override {
    return Ret(::syscall(SYS_close_range, first, last, flags));
  }
  int Ioctl(int fd, unsigned long request, unsigned long arg) override {
    return Ret(::ioctl(fd, request, arg));
  }

  int Setns(int fd, int nstype) override { return Ret(::setns(fd, nstype)); }
  int Unshare(int flags) override { return Ret(::unshare(flags)); }
  int Sethostname(const char* name, size_t len) override { return Ret(::sethostname(name, len)); }
  int Setdomainname(const char* name, size_t len) override { return Ret(::setdomainname(name, len)); }
  int Setgroups(size_t size, const gid_t* list) override { return Ret(::syscall(SYS_setgroups, size, list)); }
  int Setresgid(gid_t rgid, gid_t egid, gid_t sgid) override {
    return Ret(::syscall(SYS_setresgid, rgid, egid, sgid));
  }
  int Setresuid(uid_t ruid, uid_t euid, uid_t suid) override {
    return Ret(::syscall(SYS_setresuid, ruid, euid, suid));
  }
  int Capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) override {
    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[2]{};
    data[0].effective = static_cast<uint32_t>(effective);
    data[1].effective = static_cast<uint32_t>(effective >> 32);
    data[0].permitted = static_cast<uint32_t>(permitted);
    data[1].permitted = static_cast<uint32_t>(permitted >> 32);
    data[0].inheritable = static_cast<uint32_t>(inheritable);
    data[1].inheritable = static_cast<uint32_t>(inheritable >> 32);
    return Ret(::syscall(SYS_capset, &header, data));
  }
  int Prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) override {
    return Ret(::prctl(option, a2, a3, a4, a5));
  }
  int SeccompSetFilter(unsigned int flags, const sock_fprog* prog) override {
    return Ret(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog));
  }
  int Prlimit(pid_t pid, int resource, const struct rlimit* new_limit, struct rlimit* old) override {
    return Ret(::syscall(SYS_prlimit64, pid, resource, new_limit, old));
  }
  mode_t Umask(mode_t mask) override { return ::umask(mask); }
  int Setsid() override { return Ret(::setsid()); }
  int Personality(unsigned long persona) override { return Ret(::syscall(SYS_personality, persona)); }
  pid_t Getpid() override { return static_cast<pid_t>(::syscall(SYS_getpid)); }
  int Execve(const char* path, char* const argv[], char* const envp[]) override {
    return Ret(::execve(path, argv, envp));
  }
};

// Constant-initialized: no guard variable, so the first use may safely be in a clone3 child.
constinit RealSys g_real_sys;

}  // namespace

Sys& LinuxSys() { return g_real_sys; }

size_t SafeStrLen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

size_t SafeAppend(char* buf, size_t cap, const char* s) {
  size_t n = SafeStrLen(buf);
  while (*s != '\0' && n + 1 < cap) buf[n++] = *s++;
  buf[n] = '\0';
  return n;
}

size_t SafeAppendInt(char* buf, size_t cap, long long v) {
  char digits[24];
  int i = 0;
  unsigned long long u =
      v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    digits[i++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  char out[26];
  int j = 0;
  if (v < 0) out[j++] = '-';
  while (i > 0) out[j++] = digits[--i];
  out[j] = '\0';
  return SafeAppend(buf, cap, out);
}

FdPath::FdPath(int fd) {
  buf_[0] = '\0';
  SafeAppend(buf_, sizeof(buf_), "/proc/self/fd/");
  SafeAppendInt(buf_, sizeof(buf_), fd);
}

}  // namespace cricket::sys
