#include "lib/sys/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::sys {

absl::StatusOr<FileLock> FileLock::TryAcquire(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return ErrnoError("open lock file", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) return ErrnoError(err, "lock", path);
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
    std::string holder = "another process";
    if (n > 0) {
      if (auto pid = ParseInt64(TrimSpace(std::string_view(buf, static_cast<size_t>(n))))) {
        holder = StrCat("pid ", *pid);
      }
    }
    return absl::FailedPreconditionError(StrCat("lock ", path, " is held by ", holder));
  }
  std::string pid = StrCat(::getpid(), "\n");
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return ErrnoError("write pid to lock file", path);
  }
  return FileLock(path, std::move(fd));
}

}  // namespace cricket::sys
