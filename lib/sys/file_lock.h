// An exclusive lock on a file, held for the lifetime of the object, by this process only.
//
// It is a POSIX record lock (fcntl F_SETLK on the whole file), which belongs to the process, not to
// the open file: a child that is forked and has not exec'd yet (a spawn before its execve, a helper
// that never execs) does not hold it, so the lock is free the moment the holder dies, whatever
// children it leaves behind. (flock and OFD locks belong to the open file description, which every
// fork copy shares until it closes it: a daemon killed while such a child lived would keep its lock.)
// Within the process a second TryAcquire of the same file is refused too (the kernel would grant it),
// and nothing else may open a locked file: closing any descriptor of it would drop the lock.
//
// The holder's pid is written into the file for people; a refused locker names the pid the kernel
// reports as the holder.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

class FileLock {
 public:
  // Takes the lock without waiting. FailedPrecondition naming the holder's pid when it is held.
  static absl::StatusOr<FileLock> TryAcquire(const std::string& path);

  FileLock(FileLock&& o) noexcept;
  FileLock& operator=(FileLock&& o) noexcept;
  // Releasing is closing the fd; the file stays (removing it would race with a new locker).
  ~FileLock();

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, UniqueFd fd, dev_t dev, ino_t ino)
      : path_(std::move(path)), fd_(std::move(fd)), dev_(dev), ino_(ino) {}
  void Release();
  std::string path_;
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// A shared or exclusive open-file-description lock (fcntl F_OFD_SETLK) on a whole file: it conflicts
// between processes and between threads of one process that opened the file separately, and a held
// exclusive lock turns into a shared one atomically (Downgrade). A lock file removed while locked
// (UnlinkWhileHeld) is never relied on by a later locker: Acquire checks, once it holds the lock, that
// the path still names the file it locked, and starts over otherwise.
class OfdLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Creates `path` if needed. With `wait`, blocks until the lock is granted; without, returns nullopt
  // when another holder conflicts.
  static absl::StatusOr<std::optional<OfdLock>> Acquire(const std::string& path, Mode mode, bool wait);

  OfdLock(OfdLock&&) noexcept = default;
  OfdLock& operator=(OfdLock&&) noexcept = default;
  ~OfdLock() = default;  // closing the fd releases the lock

  absl::Status Downgrade();
  void UnlinkWhileHeld();
  const std::string& path() const { return path_; }

 private:
  OfdLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace cricket::sys
