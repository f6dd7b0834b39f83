// ByteSource: the pull-style stream a layer's uncompressed tar is read from. The pull pipeline adapts
// its download + decompressor to it (or hands over a pipe's read end with FdSource); the layer store
// reads every byte exactly once, hashing as it extracts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cricket::storage {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `len` bytes into `buf`. Returns 0 only at the end of the stream. An error aborts the
  // layer apply and is returned by it unchanged (so a network error stays a network error).
  virtual absl::StatusOr<size_t> Read(char* buf, size_t len) = 0;
};

// Reads from a file descriptor it does not own (a pipe, a socket, a file). EINTR is retried.
class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd, std::string name = "stream") : fd_(fd), name_(std::move(name)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t len) override;

 private:
  int fd_;
  std::string name_;
};

// Reads from memory; the bytes must outlive the source.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  absl::StatusOr<size_t> Read(char* buf, size_t len) override;

 private:
  std::string_view data_;
};

}  // namespace cricket::storage
