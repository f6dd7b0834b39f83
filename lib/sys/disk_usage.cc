#include "lib/sys/disk_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/container/flat_hash_set.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {
namespace {

struct Walker {
  dev_t dev;
  absl::flat_hash_set<ino_t> seen;
  DiskUsage usage;

  void Count(const struct stat& st) {
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert(st.st_ino).second) return;
    usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    usage.inodes++;
  }

  absl::Status Walk(int dirfd, const std::string& shown) {
    int dupfd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) return ErrnoError("dup", shown);
    DIR* d = ::fdopendir(dupfd);
    if (d == nullptr) {
      ::close(dupfd);
      return ErrnoError("opendir", shown);
    }
    absl::Status result;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      struct stat st;
      if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while walking
        result = ErrnoError("stat", StrCat(shown, "/", n));
        break;
      }
      if (st.st_dev != dev) continue;
      Count(st);
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) {
          if (errno == ENOENT) continue;
          result = ErrnoError("open", StrCat(shown, "/", n));
          break;
        }
        result = Walk(sub.get(), StrCat(shown, "/", n));
        if (!result.ok()) break;
      }
    }
    ::closedir(d);
    return result;
  }
};

}  // namespace

absl::StatusOr<DiskUsage> DirectoryUsage(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return DiskUsage{};
    return ErrnoError("open", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("stat", path);
  Walker w{st.st_dev, {}, {}};
  w.Count(st);
  RETURN_IF_ERROR(w.Walk(fd.get(), path));
  return w.usage;
}

}  // namespace cricket::sys
