// The input buffer of a frame reader (SPDY frames, WebSocket messages): bytes appended as the peer sends
// them, read from the front as frames are decoded. The consumed prefix is dropped once it is most of the
// buffer, so appends stay amortised O(1) and a connection holds about what it has not yet decoded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cricket::streaming {

class ByteQueue {
 public:
  void Append(std::string_view bytes) { buffer_.append(bytes); }
  // The bytes not yet consumed; valid until the next Append or Consume.
  std::string_view View() const { return std::string_view(buffer_).substr(offset_); }
  size_t size() const { return buffer_.size() - offset_; }
  // Drops the first `n` (≤ size()) unconsumed bytes.
  void Consume(size_t n) {
    offset_ += n;
    if (offset_ == buffer_.size()) {
      buffer_.clear();
      offset_ = 0;
    } else if (offset_ > kCompactAfter && offset_ * 2 > buffer_.size()) {
      buffer_.erase(0, offset_);
      offset_ = 0;
    }
  }

 private:
  static constexpr size_t kCompactAfter = 64 << 10;
  std::string buffer_;
  size_t offset_ = 0;
};

}  // namespace cricket::streaming
