#include "lib/storage/byte_source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/common/status.h"

namespace cricket::storage {

absl::StatusOr<size_t> FdSource::Read(char* buf, size_t len) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return ErrnoError("read", name_);
  }
}

absl::StatusOr<size_t> StringSource::Read(char* buf, size_t len) {
  size_t n = std::min(len, data_.size());
  std::memcpy(buf, data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

}  // namespace cricket::storage
