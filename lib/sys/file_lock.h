// An exclusive advisory lock (flock) on a file, held for the lifetime of the object. The holder's pid
// is written into the file so that a refused locker can say who holds it.
#pragma once

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

}  // namespace cricket::sys
