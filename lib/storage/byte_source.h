// ByteSource: the pull-style stream a layer's uncompressed tar is read from. The pull pipeline adapts
// its download + decompressor to it (or hands over a pipe's read end with FdSource); the layer store
// reads every byte exactly once, hashing as it extracts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

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

// A bounded in-memory pipe from a push-style producer (a libcurl write callback feeding a
// decompressor) to the pull-style reader of LayerClaim::Apply running in another thread. Write blocks
// while `capacity` bytes are buffered. The producer ends the stream with Close (OK: end of data, an
// error: Read returns it once the buffered bytes are consumed). The consumer calls CloseRead when it
// stops early (the apply failed), which makes pending and later Writes return false.
class PipeSource : public ByteSource {
 public:
  explicit PipeSource(size_t capacity = size_t{4} << 20) : capacity_(capacity) {}

  bool Write(std::string_view data);
  void Close(absl::Status status = absl::OkStatus());
  void CloseRead();
  absl::StatusOr<size_t> Read(char* buf, size_t len) override;

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  size_t offset_ ABSL_GUARDED_BY(mu_) = 0;  // consumed prefix of buffer_
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool reader_gone_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::storage
