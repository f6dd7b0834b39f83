#include "lib/storage/byte_source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

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

bool PipeSource::Write(std::string_view data) {
  while (!data.empty()) {
    absl::MutexLock l(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return reader_gone_ || buffer_.size() - offset_ < capacity_;
    };
    mu_.Await(absl::Condition(&room));
    if (reader_gone_ || closed_) return false;
    if (offset_ > 0 && offset_ >= buffer_.size() / 2) {
      buffer_.erase(0, offset_);
      offset_ = 0;
    }
    size_t n = std::min(data.size(), capacity_ - (buffer_.size() - offset_));
    buffer_.append(data.data(), n);
    data.remove_prefix(n);
  }
  return true;
}

void PipeSource::Close(absl::Status status) {
  absl::MutexLock l(&mu_);
  if (closed_) return;
  closed_ = true;
  status_ = std::move(status);
}

void PipeSource::CloseRead() {
  absl::MutexLock l(&mu_);
  reader_gone_ = true;
}

absl::StatusOr<size_t> PipeSource::Read(char* buf, size_t len) {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || offset_ < buffer_.size(); };
  mu_.Await(absl::Condition(&ready));
  if (offset_ == buffer_.size()) {
    if (!status_.ok()) return status_;
    return size_t{0};
  }
  size_t n = std::min(len, buffer_.size() - offset_);
  std::memcpy(buf, buffer_.data() + offset_, n);
  offset_ += n;
  return n;
}

}  // namespace cricket::storage
