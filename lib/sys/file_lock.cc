#include "lib/sys/file_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

// The files this process holds locked, by (device, inode), with the pid that took them: the kernel
// grants a process's own POSIX lock again, so the refusal within the process is kept here. A forked
// child inherits this memory but not the locks: entries of another pid are not its own.
absl::Mutex held_mu;
std::map<std::pair<dev_t, ino_t>, pid_t>& HeldMap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(held_mu) {
  static auto* held = new std::map<std::pair<dev_t, ino_t>, pid_t>();
  return *held;
}
bool HeldHereAlready(const struct stat& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(held_mu) {
  auto it = HeldMap().find({st.st_dev, st.st_ino});
  return it != HeldMap().end() && it->second == ::getpid();
}

absl::Status HeldHere(const std::string& path) {
  return absl::FailedPreconditionError(
      StrCat("lock ", path, " is held by pid ", ::getpid(), " (this process)"));
}

}  // namespace

absl::StatusOr<FileLock> FileLock::TryAcquire(const std::string& path) {
  absl::MutexLock l(&held_mu);
  // Checked before opening: closing a second descriptor of a locked file would release the lock.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && HeldHereAlready(st)) return HeldHere(path);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return ErrnoError("open lock file", path);
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("stat lock file", path);
  if (HeldHereAlready(st)) {
    // Created or replaced by a rename since the stat above: never close a descriptor of a held file.
    (void)fd.release();
    return HeldHere(path);
  }
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_SETLK, &fl) != 0) {
    int err = errno;
    if (err != EAGAIN && err != EACCES) return ErrnoError(err, "lock", path);
    std::string holder = "another process";
    struct flock who = {};
    who.l_type = F_WRLCK;
    who.l_whence = SEEK_SET;
    if (::fcntl(fd.get(), F_GETLK, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0) {
      holder = StrCat("pid ", who.l_pid);
    }
    return absl::FailedPreconditionError(StrCat("lock ", path, " is held by ", holder));
  }
  std::string pid = StrCat(::getpid(), "\n");
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return ErrnoError("write pid to lock file", path);
  }
  HeldMap()[{st.st_dev, st.st_ino}] = ::getpid();
  return FileLock(path, std::move(fd), st.st_dev, st.st_ino);
}

FileLock::FileLock(FileLock&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::move(o.fd_)), dev_(o.dev_), ino_(o.ino_) {}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    Release();
    path_ = std::move(o.path_);
    fd_ = std::move(o.fd_);
    dev_ = o.dev_;
    ino_ = o.ino_;
  }
  return *this;
}

FileLock::~FileLock() { Release(); }

void FileLock::Release() {
  if (!fd_) return;
  absl::MutexLock l(&held_mu);
  fd_.reset();
  auto it = HeldMap().find({dev_, ino_});
  if (it != HeldMap().end() && it->second == ::getpid()) HeldMap().erase(it);
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
