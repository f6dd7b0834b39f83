#include "lib/sys/secure_path.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>

#include <cerrno>

#include "lib/common/status.h"

namespace cricket::sys {
namespace {

constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// Copies `path` into `buf` without trailing slashes; false when it does not fit.
bool CopyPath(char* buf, size_t cap, const char* path) {
  size_t n = SafeStrLen(path);
  if (n + 1 > cap) return false;
  for (size_t i = 0; i < n; ++i) buf[i] = path[i];
  while (n > 1 && buf[n - 1] == '/') --n;
  buf[n] = '\0';
  return true;
}

}  // namespace

int OpenInRoot(Sys& sys, int root_fd, const char* path, uint64_t flags, uint64_t extra_resolve) {
  const char* p = (path[0] == '\0') ? "/" : path;
  return sys.Openat2(root_fd, p, flags | O_CLOEXEC, 0, kResolve | extra_resolve);
}

namespace {

// Replaces `path` by "<link target>/<rest>" for a symlink found at `prefix` (the part of the path
// already resolved, ending with the link's name); `rest` is the unprocessed remainder. A relative
// target is relative to the link's directory.
bool SubstituteLink(char* path, size_t cap, const char* prefix, const char* target, const char* rest) {
  char out[PATH_MAX];
  out[0] = '\0';
  if (target[0] != '/') {
    size_t n = SafeStrLen(prefix);
    while (n > 0 && prefix[n - 1] != '/') --n;  // drop the link's own name
    for (size_t k = 0; k < n && k + 1 < sizeof(out); ++k) out[k] = prefix[k];
    out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';
  }
  SafeAppend(out, sizeof(out), target);
  SafeAppend(out, sizeof(out), "/");
  size_t len = SafeAppend(out, sizeof(out), rest);
  if (len + 1 >= sizeof(out) || len + 1 > cap) return false;
  for (size_t k = 0; k <= len; ++k) path[k] = out[k];
  return true;
}

}  // namespace

int MkdirAllInRoot(Sys& sys, int root_fd, const char* path, mode_t mode, uint64_t extra_resolve) {
  char buf[PATH_MAX];
  if (!CopyPath(buf, sizeof(buf), path)) return -ENAMETOOLONG;
  int links = 0;
restart:
  char prefix[PATH_MAX];
  prefix[0] = '\0';
  int cur = OpenInRoot(sys, root_fd, "/", O_PATH | O_DIRECTORY, extra_resolve);
  if (cur < 0) return cur;
  size_t i = 0;
  const size_t n = SafeStrLen(buf);
  while (i < n) {
    while (i < n && buf[i] == '/') ++i;
    if (i >= n) break;
    size_t start = i;
    while (i < n && buf[i] != '/') ++i;
    char component[NAME_MAX + 1];
    if (i - start > NAME_MAX) {
      sys.Close(cur);
      return -ENAMETOOLONG;
    }
    for (size_t k = start; k < i; ++k) component[k - start] = buf[k];
    component[i - start] = '\0';
    if (component[0] == '.' && component[1] == '\0') continue;
    SafeAppend(prefix, sizeof(prefix), "/");
    SafeAppend(prefix, sizeof(prefix), component);
    int next = OpenInRoot(sys, root_fd, prefix, O_PATH | O_DIRECTORY, extra_resolve);
    if (next == -ENOENT) {
      int r = sys.Mkdirat(cur, component, mode);
      if (r == -EEXIST) {
        // A dangling symlink: continue at its target, which is resolved inside the root as well.
        char target[PATH_MAX];
        long len = sys.Readlinkat(cur, component, target, sizeof(target) - 1);
        if (len > 0) {
          target[len] = '\0';
          sys.Close(cur);
          if (++links > 40) return -ELOOP;
          char rest[PATH_MAX];
          rest[0] = '\0';
          SafeAppend(rest, sizeof(rest), buf + i);
          if (!SubstituteLink(buf, sizeof(buf), prefix, target, rest)) return -ENAMETOOLONG;
          goto restart;
        }
      } else if (r < 0) {
        sys.Close(cur);
        return r;
      }
      next = OpenInRoot(sys, root_fd, prefix, O_PATH | O_DIRECTORY, extra_resolve);
    }
    sys.Close(cur);
    if (next < 0) return next;
    cur = next;
  }
  return cur;
}

int EnsureMountTargetInRoot(Sys& sys, int root_fd, const char* path, bool file, uint64_t extra_resolve) {
  int fd = OpenInRoot(sys, root_fd, path, O_PATH, extra_resolve);
  if (fd != -ENOENT) return fd;
  if (!file) return MkdirAllInRoot(sys, root_fd, path, 0755, extra_resolve);
  char buf[PATH_MAX];
  if (!CopyPath(buf, sizeof(buf), path)) return -ENAMETOOLONG;
  size_t n = SafeStrLen(buf);
  size_t slash = n;
  while (slash > 0 && buf[slash - 1] != '/') --slash;
  const char* base = buf + slash;
  if (base[0] == '\0' || (base[0] == '.' && (base[1] == '\0' || (base[1] == '.' && base[2] == '\0')))) {
    return -EINVAL;
  }
  char dir[PATH_MAX];
  for (size_t k = 0; k < slash; ++k) dir[k] = buf[k];
  dir[slash] = '\0';
  int dirfd = MkdirAllInRoot(sys, root_fd, slash == 0 ? "/" : dir, 0755, extra_resolve);
  if (dirfd < 0) return dirfd;
  int created = sys.Openat(dirfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  sys.Close(dirfd);
  if (created >= 0) sys.Close(created);
  if (created < 0 && created != -EEXIST) return created;
  return OpenInRoot(sys, root_fd, path, O_PATH, extra_resolve);
}

absl::StatusOr<UniqueFd> OpenInRootDir(const std::string& root, const std::string& path, int flags) {
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return ErrnoError("open", root);
  int fd = OpenInRoot(LinuxSys(), root_fd.get(), path.c_str(), static_cast<uint64_t>(flags));
  if (fd < 0) return ErrnoError(-fd, "open", root + (path.starts_with("/") ? "" : "/") + path);
  return UniqueFd(fd);
}

}  // namespace cricket::sys
