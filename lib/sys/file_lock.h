// An exclusive advisory lock (flock) on a file, held for the lifetime of the object. The holder's pid
// is written into the file so that a refused locker can say who holds it.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

class FileLock {
 public:
  // Takes the lock without waiting. FailedPrecondition naming the holder's pid when it is held.
  static absl::StatusOr<FileLock> TryAcquire(const std::string& path);

  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;
  // Releasing is closing the fd; the file stays (removing it would race with a new locker).
  ~FileLock() = default;

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
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
