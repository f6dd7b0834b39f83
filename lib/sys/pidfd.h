// Process identity that survives pid reuse: a pid plus the process start time (/proc/<pid>/stat field
// 22, clock ticks since boot), and pidfds opened against that identity.
//
// A record on disk holds {pid, start_time}. To act on the process, open a pidfd and then check the start
// time again: once the pidfd is open it pins the process, so a match after opening proves the pidfd
// refers to the recorded process and not to a stranger that reused the pid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;
  bool operator==(const ProcessIdentity&) const = default;
};

// Field 22 of /proc/<pid>/stat. NotFound when the process does not exist.
absl::StatusOr<uint64_t> ReadProcessStartTime(pid_t pid);
// Field 3 of /proc/<pid>/stat ('R', 'S', 'Z', ...). NotFound when the process does not exist.
absl::StatusOr<char> ReadProcessState(pid_t pid);
absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid);
// The wait status (waitpid's form) of a process that has exited but is not reaped yet (a zombie), from
// /proc/<pid>/stat field 52: how a process that is not the caller's child (an orphan awaiting its
// reaper) can still tell how another one ended. NotFound when the process is gone or the pid belongs
// to another process; FailedPrecondition while it runs.
absl::StatusOr<int> ReadZombieWaitStatus(const ProcessIdentity& id);

// The pid (in the caller's pid namespace) of the process a pidfd refers to, from /proc/self/fdinfo;
// NotFound when it has been reaped.
absl::StatusOr<pid_t> PidOfPidFd(int pidfd);

class PidFd {
 public:
  PidFd() = default;
  explicit PidFd(UniqueFd fd, pid_t pid) : fd_(std::move(fd)), pid_(pid) {}

  // pidfd_open(2). NotFound when there is no such process.
  static absl::StatusOr<PidFd> Open(pid_t pid);
  // Opens and verifies the start time. NotFound when the process is gone or the pid now belongs to a
  // different process.
  static absl::StatusOr<PidFd> OpenIdentity(const ProcessIdentity& id);

  int get() const { return fd_.get(); }
  pid_t pid() const { return pid_; }
  bool valid() const { return fd_.valid(); }
  UniqueFd ReleaseFd() { return std::move(fd_); }

  // pidfd_send_signal(2). NotFound (ESRCH) when the process has exited.
  absl::Status Signal(int sig) const;
  // True once the process has exited (zombie or reaped); never blocks.
  bool Exited() const;
  // Waits up to `timeout_ms` (< 0: forever) for the process to exit; false on timeout.
  absl::StatusOr<bool> WaitExited(int timeout_ms) const;
  // For a child of the caller: waits (waitid P_PIDFD) and reaps it, returning the wait status in the
  // form of waitpid's (use WIFEXITED/WEXITSTATUS); with `nohang` returns nullopt while it runs.
  absl::StatusOr<std::optional<int>> Reap(bool nohang = false) const;

 private:
  UniqueFd fd_;
  pid_t pid_ = 0;
};

// Exit code in the shell's convention: the exit status, or 128 + signal number.
int ShellExitCode(int wait_status);

}  // namespace cricket::sys
