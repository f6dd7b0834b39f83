#include "lib/runtime/cgroups/oom.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"

namespace cricket::cgroups {
namespace {

// The kernel's oom_kill counter, or nullopt when this kernel has none (v1 before 4.13).
absl::StatusOr<std::optional<uint64_t>> KillCounter(const std::string& dir, int version) {
  ASSIGN_OR_RETURN(std::string text,
                   ReadCgroupFile(dir, version == 1 ? "memory.oom_control" : "memory.events"));
  std::map<std::string, uint64_t> m = ParseFlatKeyed(text);
  auto it = m.find("oom_kill");
  if (it == m.end()) {
    if (version == 2) return absl::InternalError(StrCat(dir, "/memory.events has no oom_kill line"));
    return std::optional<uint64_t>();
  }
  return std::optional<uint64_t>(it->second);
}

}  // namespace

absl::StatusOr<OomWatcher> OomWatcher::Start(const std::string& memory_dir, int version) {
  OomWatcher w;
  w.dir_ = memory_dir;
  w.version_ = version;
  if (version == 1) {
    std::string control = memory_dir + "/memory.oom_control";
    UniqueFd ofd(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ofd) return ErrnoError("open", control);
    w.fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!w.fd_) return ErrnoError("create eventfd for", control);
    RETURN_IF_ERROR(WriteCgroupFile(memory_dir, "cgroup.event_control", StrCat(w.fd_.get(), " ", ofd.get())));
  } else {
    w.fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!w.fd_) return ErrnoError("inotify_init1 for", memory_dir);
    std::string events = memory_dir + "/memory.events";
    if (::inotify_add_watch(w.fd_.get(), events.c_str(), IN_MODIFY) < 0) return ErrnoError("watch", events);
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> kills, KillCounter(memory_dir, version));
  w.has_counter_ = kills.has_value();
  w.last_kills_ = kills.value_or(0);
  return w;
}

absl::StatusOr<uint64_t> OomWatcher::Check() {
  uint64_t notifications = 0;
  if (version_ == 1) {
    uint64_t n = 0;
    if (::read(fd_.get(), &n, sizeof(n)) == sizeof(n)) notifications = n;
  } else {
    char buf[4096];
    while (::read(fd_.get(), buf, sizeof(buf)) > 0) ++notifications;
  }
  if (removed_) return 0;
  absl::StatusOr<std::optional<uint64_t>> kills = KillCounter(dir_, version_);
  if (absl::IsNotFound(kills.status())) {
    removed_ = true;
    return 0;
  }
  if (!kills.ok()) return kills.status();
  if (!has_counter_) return notifications;
  uint64_t now = kills->value_or(0);
  uint64_t delta = now > last_kills_ ? now - last_kills_ : 0;
  last_kills_ = now;
  return delta;
}

absl::StatusOr<uint64_t> ReadOomKillCount(const std::string& memory_dir, int version) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> kills, KillCounter(memory_dir, version));
  if (kills) return *kills;
  ASSIGN_OR_RETURN(std::optional<uint64_t> failcnt, ReadCgroupUint(memory_dir, "memory.failcnt"));
  return failcnt.value_or(0) > 0 ? 1 : 0;
}

}  // namespace cricket::cgroups
