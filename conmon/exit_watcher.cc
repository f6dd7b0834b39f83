#include "conmon/exit_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::conmon {
namespace {

// Exit files are named after container ids; WriteFileAtomic's temporaries start with a dot.
bool IsExitFileName(std::string_view name) {
  return !name.empty() && name[0] != '.' && name != "." && name != "..";
}

}  // namespace

absl::StatusOr<ExitRecord> ReadExitFile(const std::string& exits_dir, const std::string& id) {
  if (!IsExitFileName(id) || id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(StrCat("invalid container id \"", id, "\""));
  }
  std::string path = JoinPath(exits_dir, id);
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 << 10));
  return ParseExitRecord(text, path);
}

absl::Status RemoveExitFile(const std::string& exits_dir, const std::string& id) {
  if (!IsExitFileName(id) || id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(StrCat("invalid container id \"", id, "\""));
  }
  std::string path = JoinPath(exits_dir, id);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove exit file", path);
  return absl::OkStatus();
}

absl::StatusOr<ExitWatcher> ExitWatcher::Open(const std::string& exits_dir) {
  RETURN_IF_ERROR(MkdirAll(exits_dir, 0700));
  ExitWatcher w;
  w.dir_ = exits_dir;
  w.fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!w.fd_) return ErrnoError("create inotify for", exits_dir);
  // IN_MOVED_TO: conmon renames the finished file into place. IN_CLOSE_WRITE: a writer that does not.
  if (inotify_add_watch(w.fd_.get(), exits_dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
    return ErrnoError("watch", exits_dir);
  }
  return w;
}

namespace {

// The exit files among `names` that can be read; one removed meanwhile (NotFound) is no event.
std::vector<ExitRecord> ReadExitFiles(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<ExitRecord> out;
  for (const auto& name : names) {
    auto r = ReadExitFile(dir, name);
    if (r.ok()) {
      out.push_back(std::move(*r));
    } else if (r.status().code() != absl::StatusCode::kNotFound) {
      log::Warn("conmon-client", "skipping unreadable exit file", {{"error", r.status()}});
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ExitRecord>> ExitWatcher::Scan() const {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  std::erase_if(names, [](const std::string& name) { return !IsExitFileName(name); });
  return ReadExitFiles(dir_, names);
}

absl::StatusOr<std::vector<ExitRecord>> ExitWatcher::ReadEvents() {
  std::vector<std::string> names;
  bool overflow = false;
  alignas(inotify_event) char buf[16 * 1024];
  for (;;) {
    ssize_t n = read(fd_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return ErrnoError("read inotify events of", dir_);
    for (ssize_t off = 0; off < n;) {
      inotify_event ev;
      memcpy(&ev, buf + off, sizeof(ev));
      if (ev.mask & IN_Q_OVERFLOW) overflow = true;
      if (ev.len > 0) {
        std::string name(buf + off + sizeof(inotify_event),
                         strnlen(buf + off + sizeof(inotify_event), ev.len));
        if (IsExitFileName(name)) names.push_back(std::move(name));
      }
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev.len);
    }
  }
  if (overflow) return Scan();
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return ReadExitFiles(dir_, names);
}

absl::StatusOr<std::vector<ExitRecord>> ExitWatcher::Wait(absl::Duration timeout) {
  int64_t deadline = MonotonicNow() + absl::ToInt64Nanoseconds(timeout);
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<ExitRecord> records, ReadEvents());
    if (!records.empty()) return records;
    int64_t left = deadline - MonotonicNow();
    if (left <= 0) return records;
    pollfd p{fd_.get(), POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(std::min<int64_t>(left / 1'000'000 + 1, 60'000)));
    if (rc < 0 && errno != EINTR) return ErrnoError("poll inotify of", dir_);
  }
}

}  // namespace cricket::conmon
