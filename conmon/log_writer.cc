#include "conmon/log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::conmon {
namespace {
constexpr mode_t kLogMode = 0640;
// Buffers above this are released after use instead of being kept for the next write.
constexpr size_t kKeepCapacity = 64 * 1024;
}  // namespace

std::string_view StreamName(Stream stream) { return stream == Stream::kStdout ? "stdout" : "stderr"; }

absl::StatusOr<LogWriter> LogWriter::Open(LogWriterOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("log path is empty");
  if (options.chunk_size == 0) return absl::InvalidArgumentError("log chunk size is 0");
  if (!options.clock) options.clock = RealtimeNow;
  LogWriter w(std::move(options));
  RETURN_IF_ERROR(w.OpenFile());
  return w;
}

absl::StatusOr<LogWriter> LogWriter::Open(const std::string& path, int64_t size_max) {
  LogWriterOptions options;
  options.path = path;
  options.size_max = size_max;
  return Open(std::move(options));
}

absl::Status LogWriter::OpenFile() {
  RETURN_IF_ERROR(MkdirAll(DirName(options_.path), 0755));
  UniqueFd fd(::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kLogMode));
  if (!fd) return ErrnoError("open container log", options_.path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("stat container log", options_.path);
  fd_ = std::move(fd);
  file_bytes_ = st.st_size;
  return absl::OkStatus();
}

absl::Status LogWriter::Reopen() { return Annotate(OpenFile(), "reopen container log"); }

absl::Status LogWriter::ReplaceFile() {
  std::string tmp = StrCat(options_.path, ".tmp");
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, kLogMode));
  if (!fd) return ErrnoError("create container log", tmp);
  if (::rename(tmp.c_str(), options_.path.c_str()) != 0) {
    absl::Status s = ErrnoError("replace container log", options_.path);
    ::unlink(tmp.c_str());
    return s;
  }
  fd_ = std::move(fd);
  file_bytes_ = 0;
  return absl::OkStatus();
}

absl::Status LogWriter::WriteOut() {
  std::string_view rest = out_;
  absl::Status status;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = ErrnoError(n < 0 ? errno : ENOSPC, "write container log", options_.path);
      break;
    }
    file_bytes_ += n;
    rest.remove_prefix(static_cast<size_t>(n));
  }
  out_.clear();
  if (out_.capacity() > kKeepCapacity) out_.shrink_to_fit();
  return status;
}

absl::Status LogWriter::AddRecord(Stream stream, char tag, std::string_view a, std::string_view b) {
  std::string_view name = StreamName(stream);
  size_t size = timestamp_size_ + 1 + name.size() + 3 + a.size() + b.size() + 1;
  absl::Status status;
  if (options_.size_max > 0 && file_bytes_ + static_cast<int64_t>(out_.size() + size) > options_.size_max &&
      file_bytes_ + static_cast<int64_t>(out_.size()) > 0) {
    status = WriteOut();
    absl::Status r = ReplaceFile();
    if (status.ok()) status = r;
  }
  out_.append(timestamp_, timestamp_size_);
  out_.push_back(' ');
  out_.append(name);
  out_.push_back(' ');
  out_.push_back(tag);
  out_.push_back(' ');
  out_.append(a);
  out_.append(b);
  out_.push_back('\n');
  return status;
}

absl::Status LogWriter::Write(Stream stream, std::string_view data) {
  if (data.empty()) return absl::OkStatus();
  timestamp_size_ = FormatRFC3339NanoTo(options_.clock(), timestamp_);
  std::string& partial = partial_[static_cast<int>(stream)];
  const size_t chunk = options_.chunk_size;
  absl::Status status;
  auto keep = [&status](absl::Status s) {
    if (status.ok()) status = std::move(s);
  };
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
    if (nl == std::string_view::npos) {
      partial.append(piece);
      size_t off = 0;
      for (; partial.size() - off >= chunk; off += chunk)
        keep(AddRecord(stream, 'P', std::string_view(partial).substr(off, chunk)));
      partial.erase(0, off);
      break;
    }
    // A complete line: the held tail (always < chunk) and `piece`, cut into chunks with the last as F.
    if (partial.size() + piece.size() <= chunk) {
      keep(AddRecord(stream, 'F', partial, piece));
    } else {
      size_t take = chunk - partial.size();
      keep(AddRecord(stream, 'P', partial, piece.substr(0, take)));
      piece.remove_prefix(take);
      for (; piece.size() > chunk; piece.remove_prefix(chunk))
        keep(AddRecord(stream, 'P', piece.substr(0, chunk)));
      keep(AddRecord(stream, 'F', piece));
    }
    partial.clear();
  }
  if (partial.empty() && partial.capacity() > kKeepCapacity) partial.shrink_to_fit();
  keep(WriteOut());
  return status;
}

absl::Status LogWriter::Flush(Stream stream) {
  std::string& partial = partial_[static_cast<int>(stream)];
  if (partial.empty()) return absl::OkStatus();
  timestamp_size_ = FormatRFC3339NanoTo(options_.clock(), timestamp_);
  absl::Status status = AddRecord(stream, 'P', partial);
  partial.clear();
  absl::Status w = WriteOut();
  return status.ok() ? w : status;
}

}  // namespace cricket::conmon
