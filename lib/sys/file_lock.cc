#include "lib/sys/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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

namespace {

int SetOfdLock(int fd, short type, bool wait) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  for (;;) {
    if (::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

}  // namespace

absl::StatusOr<std::optional<OfdLock>> OfdLock::Acquire(const std::string& path, Mode mode, bool wait) {
  for (;;) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return ErrnoError("open lock file", path);
    int err = SetOfdLock(fd.get(), mode == Mode::kShared ? F_RDLCK : F_WRLCK, wait);
    if (err == EAGAIN || err == EACCES) return std::optional<OfdLock>();
    if (err != 0) return ErrnoError(err, "lock", path);
    struct stat held, now;
    if (::fstat(fd.get(), &held) != 0) return ErrnoError("fstat", path);
    if (::stat(path.c_str(), &now) == 0 && now.st_ino == held.st_ino && now.st_dev == held.st_dev) {
      return std::optional<OfdLock>(OfdLock(path, std::move(fd)));
    }
    // Removed (or replaced) by its previous holder after we opened it: lock the current file instead.
  }
}

absl::Status OfdLock::Downgrade() {
  int err = SetOfdLock(fd_.get(), F_RDLCK, false);
  if (err != 0) return ErrnoError(err, "downgrade lock", path_);
  return absl::OkStatus();
}

void OfdLock::UnlinkWhileHeld() { ::unlink(path_.c_str()); }

}  // namespace cricket::sys
