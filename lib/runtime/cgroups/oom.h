// Watching a cgroup for OOM kills (cricket-conmon reports them as the container's exit reason).
//
// v1: an eventfd registered through cgroup.event_control on memory.oom_control
//     (Documentation/admin-guide/cgroup-v1/memory.rst §9); it also fires when the cgroup is removed.
// v2: inotify on memory.events, whose oom_kill counter the kernel bumps (and notifies) on every kill
//     in the cgroup or below it (Documentation/admin-guide/cgroup-v2.rst, memory.events).
// In both cases Check() reports the growth of the kernel's oom_kill counter, so a wake-up that was not
// a kill (removal, a "max" event) counts nothing. Kernels older than 4.13 have no oom_kill counter in
// v1's memory.oom_control; there every eventfd notification while the cgroup exists counts as one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::cgroups {

class OomWatcher {
 public:
  // Watches the memory controller directory `memory_dir` of a cgroup on hierarchy `version` (1 or 2).
  // Kills before Start() are not reported.
  static absl::StatusOr<OomWatcher> Start(const std::string& memory_dir, int version);

  OomWatcher(OomWatcher&&) noexcept = default;
  OomWatcher& operator=(OomWatcher&&) noexcept = default;

  // Becomes readable when something may have happened; poll/epoll it, then call Check().
  int fd() const { return fd_.get(); }

  // Without blocking: consumes the notifications and returns how many OOM kills happened since the
  // previous Check() (or Start()). 0 when the cgroup is gone; see removed().
  absl::StatusOr<uint64_t> Check();

  // The cgroup was removed; the watcher will not fire again.
  bool removed() const { return removed_; }

 private:
  OomWatcher() = default;

  std::string dir_;
  int version_ = 1;
  UniqueFd fd_;  // eventfd (v1) or inotify (v2)
  uint64_t last_kills_ = 0;
  bool has_counter_ = true;
  bool removed_ = false;
};

// The number of OOM kills the kernel has recorded for the cgroup whose memory directory is `memory_dir`
// (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). On v1 kernels without that counter it is
// 1 when memory.failcnt shows the limit was hit and 0 otherwise — a hint, not a count.
absl::StatusOr<uint64_t> ReadOomKillCount(const std::string& memory_dir, int version);

}  // namespace cricket::cgroups
