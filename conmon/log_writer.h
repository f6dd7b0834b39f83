// The CRI container log file (interfaces.md §3; kubelet's reader is cri-client pkg/logs/logs.go):
//
//   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
//
// A complete line is one F record (its newline is the record's). A line longer than `chunk_size` is
// cut into P records of chunk_size bytes followed by an F record with the rest (containerd cuts at
// 16 KiB). An unterminated tail is held until its newline arrives, until it reaches chunk_size (then it
// becomes a P record), or until Flush() (end of the stream, container exit), which writes it as a P
// record. Every record ends with '\n'. Records of one Write() share one timestamp.
//
// log_size_max (crio.runtime log_size_max): when the next record would take the file beyond it, the
// file is replaced by a new empty one (created beside it and renamed over the path) and writing goes
// on there — what CRI-O's conmon does. A record larger than the limit still goes into the new file.
//
// Reopen() (ReopenContainerLog, after kubelet renamed the file away) opens the path again, creating
// a new file; the renamed one stops growing. A failed reopen keeps writing to the old file.
//
// Not thread-safe; cricket-conmon uses it from its single loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/common/time_util.h"
#include "lib/common/unique_fd.h"

namespace cricket::conmon {

enum class Stream { kStdout = 0, kStderr = 1 };
std::string_view StreamName(Stream stream);

inline constexpr size_t kDefaultChunkSize = 16 * 1024;

struct LogWriterOptions {
  std::string path;
  int64_t size_max = -1;  // bytes; <= 0 means unlimited
  size_t chunk_size = kDefaultChunkSize;
  std::function<int64_t()> clock;  // unix ns; empty: CLOCK_REALTIME
};

class LogWriter {
 public:
  // Creates the parent directories and opens (or creates, mode 0640) the file for appending.
  static absl::StatusOr<LogWriter> Open(LogWriterOptions options);
  static absl::StatusOr<LogWriter> Open(const std::string& path, int64_t size_max = -1);

  LogWriter(LogWriter&&) noexcept = default;
  LogWriter& operator=(LogWriter&&) noexcept = default;

  // Logs container output. On a write error (disk full) the records of this call are lost and the
  // error returned; later calls try again.
  absl::Status Write(Stream stream, std::string_view data);
  // Writes the held unterminated tail of `stream`, if any, as a P record.
  absl::Status Flush(Stream stream);
  absl::Status Reopen();

  // Bytes in the current file (as found at open, plus what was written since).
  int64_t file_bytes() const { return file_bytes_; }
  // Unterminated bytes held for `stream`.
  size_t pending(Stream stream) const { return partial_[static_cast<int>(stream)].size(); }

 private:
  explicit LogWriter(LogWriterOptions options) : options_(std::move(options)) {}
  absl::Status OpenFile();
  // Appends one record to out_, first writing out_ and replacing the file when the size limit says so.
  absl::Status AddRecord(Stream stream, char tag, std::string_view a, std::string_view b = {});
  absl::Status WriteOut();
  absl::Status ReplaceFile();

  LogWriterOptions options_;
  UniqueFd fd_;
  int64_t file_bytes_ = 0;
  std::string partial_[2];
  std::string out_;
  char timestamp_[kRFC3339NanoMaxSize];
  size_t timestamp_size_ = 0;
};

}  // namespace cricket::conmon
