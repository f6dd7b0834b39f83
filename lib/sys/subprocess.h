// Running other programs from the multithreaded daemon.
//
// Children are created with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): the child borrows the
// caller's memory while the caller's thread is suspended, runs only async-signal-safe system calls
// (signal reset, dup2, close_range, chdir, setsid, execve) and never returns into C++ code, so no
// lock held by another daemon thread can deadlock it. The pidfd is created atomically with the child,
// so waiting and killing can never hit a recycled pid.
//
// Children are created with exit signal 0 (a "clone child"): the daemon gets no SIGCHLD for them and
// a stray waitpid(-1, ...) elsewhere in the process cannot reap them; a SIGCHLD disposition of SIG_IGN
// does not auto-reap them either. Only this module waits for them (waitid on the pidfd with __WALL).
//
// Nothing is inherited implicitly: argv and the environment are exactly what the caller passes, every
// file descriptor but 0-2 (and the ones handed over explicitly) is closed, every signal handler is
// reset to SIG_DFL and the signal mask is cleared.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

// What to execute.
struct Command {
  std::string path;               // absolute path of the executable; no PATH search is done
  std::vector<std::string> args;  // argv, argv[0] included; empty means {path}
  std::vector<std::string> env;   // the complete environment, "KEY=value" each
  std::string dir;                // working directory of the child; empty: the caller's
};

// How a child ended.
struct ExitStatus {
  int code = -1;   // exit code when it exited, else -1
  int signal = 0;  // the signal that killed it, else 0
  bool success() const { return code == 0; }
  // "exit status 3" or "killed by signal 9 (SIGKILL)".
  std::string ToString() const;
};

struct RunOptions {
  std::string stdin_data;                             // written to the child's stdin, which is then closed
  size_t stdout_limit = 4 << 20;                      // bytes kept of stdout; the rest is read and dropped
  size_t stderr_limit = 256 << 10;                    // bytes kept of stderr
  absl::Duration timeout = absl::InfiniteDuration();  // then the child gets SIGKILL and is reaped
  // After the child exited, how long to wait for EOF on its output (a grandchild may still hold it).
  absl::Duration output_grace = absl::Milliseconds(500);
};

struct RunResult {
  ExitStatus status;
  bool timed_out = false;  // the timeout passed and the child was killed
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  absl::Duration elapsed;
};

// Runs `cmd` to completion with its stdin fed from `opts.stdin_data` and stdout/stderr captured.
// The child gets SIGKILL should the calling thread die first (PR_SET_PDEATHSIG): a result nobody
// waits for is never worth finishing.
// The returned error is only about starting it (NotFound for a missing executable, PermissionDenied,
// InvalidArgument for a relative path...) or about the plumbing; how the child ended, including a
// non-zero exit or the timeout, is in the RunResult. The child is always reaped before returning.
absl::StatusOr<RunResult> RunProcess(const Command& cmd, const RunOptions& opts = {});

struct SpawnOptions {
  // Descriptors of the caller that become the child's 0, 1 and 2; -1 means /dev/null.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Further descriptors to hand over: {fd number in the child (>= 3), fd of the caller}.
  std::vector<std::pair<int, int>> extra_fds;
  bool new_session = true;  // setsid(): no controlling terminal, own process group
  // Double fork: an intermediate child forks the real child and exits at once, so the child is
  // re-parented to init (or the nearest subreaper) and outlives the caller without ever being its
  // zombie. The pidfd still allows Signal() and WaitExited(), but not Wait() (no exit status).
  bool reparent = false;
};

// A spawned child, owned through its pidfd.
class Process {
 public:
  Process(Process&&) noexcept = default;
  Process& operator=(Process&&) noexcept = default;
  // Does not wait: a child that has already exited is reaped, but one still running and neither
  // reparented nor waited for becomes a zombie nobody reaps until the daemon exits. Call Wait() (or
  // Kill()) for children that must not outlive their owner, or spawn them with `reparent`.
  ~Process();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool reparented() const { return reparented_; }

  // Sends `sig` through the pidfd (never to a recycled pid). Success when it has already exited.
  absl::Status Signal(int sig);
  // Waits up to `timeout` for the child to exit, without reaping it. True when it has exited.
  absl::StatusOr<bool> WaitExited(absl::Duration timeout);
  // Reaps the child and returns how it ended; DeadlineExceeded when it is still running after
  // `timeout`. FailedPrecondition for a reparented child (it is not ours to reap).
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout = absl::InfiniteDuration());
  // SIGKILL then Wait().
  absl::StatusOr<ExitStatus> Kill();

 private:
  friend absl::StatusOr<Process> SpawnProcess(const Command& cmd, const SpawnOptions& opts);
  Process(pid_t pid, UniqueFd pidfd, bool reparented)
      : pid_(pid), pidfd_(std::move(pidfd)), reparented_(reparented) {}
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool reparented_ = false;
  bool reaped_ = false;
};

// Starts `cmd` without waiting for it (conmon, OCI hooks run by the caller's own loop). Errors are
// those of starting it, as for RunProcess(); once it returns OK, execve has succeeded.
absl::StatusOr<Process> SpawnProcess(const Command& cmd, const SpawnOptions& opts = {});

}  // namespace cricket::sys
