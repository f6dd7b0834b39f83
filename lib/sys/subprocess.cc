#include "lib/sys/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/fd_passing.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace cricket::sys {
namespace {

constexpr size_t kChildStackSize = 256 << 10;
constexpr int kMaxMappedFds = 64;

// The kernel's struct clone_args (version 0), spelled out to avoid mixing <linux/sched.h> with glibc's.
struct KernelCloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
};

// glibc 2.36's <sys/pidfd.h> lacks extern "C"; the system call is used directly.
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Where a child failed before execve, reported to the parent.
enum Stage : int { kNone = 0, kSignals, kSetsid, kDupFds, kCloseFds, kChdir, kExec, kFork };

const char* StageVerb(int stage) {
  switch (stage) {
    case kSignals:
      return "reset signals for";
    case kSetsid:
      return "setsid for";
    case kDupFds:
      return "hand over file descriptors to";
    case kCloseFds:
      return "close file descriptors for";
    case kChdir:
      return "chdir for";
    case kFork:
      return "fork (reparent) for";
    default:
      return "execve";
  }
}

// Everything the child needs, prepared by the parent so that the child allocates nothing. The child
// shares the parent's memory (CLONE_VM) and writes its failure into `stage`/`error`.
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* dir = nullptr;
  bool new_session = false;
  // RunProcess: the child is killed when the thread that started it dies (the daemon killed while a
  // CNI plugin or hook runs must not leave it half-way through, racing the next daemon's clean-up).
  bool die_with_parent = false;
  pid_t parent_pid = 0;
  int nfds = 0;
  int src[kMaxMappedFds];
  int dst[kMaxMappedFds];
  int tmp[kMaxMappedFds];
  int max_dst = 2;
  // Reparent mode: the intermediate child forks the real one, reports its pid here and sends its
  // pidfd over the socket `pidfd_sock`; the real child reports failures through the close-on-exec
  // pipe `report_fd`.
  bool reparent = false;
  int report_fd = -1;
  int pidfd_sock = -1;
  pid_t grandchild_pid = -1;
  // Failure report (direct mode).
  volatile int stage = kNone;
  volatile int error = 0;
};

[[noreturn]] void ChildFail(ChildPlan* plan, int stage) {
  int err = errno;
  if (plan->report_fd >= 0) {
    int msg[2] = {stage, err};
    (void)!write(plan->report_fd, msg, sizeof(msg));
  } else {
    plan->stage = stage;
    plan->error = err;
  }
  _exit(127);
}

// Runs in the child: only async-signal-safe calls from here to execve.
[[noreturn]] void ExecChild(ChildPlan* plan) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // glibc refuses its internal signals; exec resets those anyway
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) ChildFail(plan, kSignals);
  if (plan->die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != plan->parent_pid)) {
    ChildFail(plan, kSignals);
  }
  if (plan->new_session && setsid() < 0) ChildFail(plan, kSetsid);
  // Move every source above the highest target first, so that dup2 onto a target can never clobber a
  // source that is still needed; the report pipe is moved out of the way too.
  int floor = plan->max_dst + 1;
  if (plan->report_fd >= 0) {
    plan->report_fd = fcntl(plan->report_fd, F_DUPFD_CLOEXEC, floor);
    if (plan->report_fd < 0) ChildFail(plan, kDupFds);
  }
  for (int i = 0; i < plan->nfds; ++i) {
    plan->tmp[i] = fcntl(plan->src[i], F_DUPFD_CLOEXEC, floor);
    if (plan->tmp[i] < 0) ChildFail(plan, kDupFds);
  }
  for (int i = 0; i < plan->nfds; ++i) {
    if (dup2(plan->tmp[i], plan->dst[i]) < 0) ChildFail(plan, kDupFds);
  }
  for (int fd = 3; fd <= plan->max_dst; ++fd) {
    bool wanted = false;
    for (int i = 0; i < plan->nfds; ++i) wanted = wanted || plan->dst[i] == fd;
    if (!wanted) close(fd);
  }
  // Close-on-exec rather than close, so that the report pipe survives until execve succeeds.
  if (close_range(floor, ~0U, CLOSE_RANGE_CLOEXEC) != 0) ChildFail(plan, kCloseFds);
  if (plan->dir != nullptr && chdir(plan->dir) != 0) ChildFail(plan, kChdir);
  execve(plan->path, plan->argv, plan->envp);
  ChildFail(plan, kExec);
}

int ChildMain(void* arg) {
  auto* plan = static_cast<ChildPlan*>(arg);
  if (!plan->reparent) ExecChild(plan);
  // Intermediate child (shares the parent's memory, not its fd table: nothing it holds keeps the
  // daemon's files or locks should the daemon die meanwhile): fork the real child with a pidfd, send
  // the pidfd to the parent, then exit so that the real child is re-parented.
  KernelCloneArgs args;
  memset(&args, 0, sizeof(args));
  int pidfd = -1;
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0) {
    plan->stage = kFork;
    plan->error = errno;
    _exit(127);
  }
  if (pid == 0) ExecChild(plan);  // a copy of the address space: reports through report_fd
  plan->grandchild_pid = static_cast<pid_t>(pid);
  char one = 1;
  int rc = SendWithFd(plan->pidfd_sock, &one, 1, pidfd);
  if (rc < 0) {
    plan->stage = kFork;
    plan->error = -rc;
    kill(static_cast<pid_t>(pid), SIGKILL);
    _exit(127);
  }
  _exit(0);
}

// Clones the child described by `plan`. Returns the child's pidfd and sets `*pid`. With CLONE_VFORK
// this returns only after the child called execve or exited.
absl::StatusOr<UniqueFd> CloneChild(ChildPlan* plan, pid_t* pid) {
  void* stack =
      mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return ErrnoError("mmap child stack for", plan->path);
  absl::Cleanup unmap = [&] { munmap(stack, kChildStackSize); };
  // Block every signal so that no handler of the daemon runs on the child's borrowed memory before the
  // child has reset its dispositions.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD;  // exit signal 0: see the header
  int rc = clone(ChildMain, static_cast<char*>(stack) + kChildStackSize, flags, plan, &pidfd);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc < 0) return ErrnoError(clone_errno, "clone child for", plan->path);
  *pid = rc;
  return UniqueFd(pidfd);
}

ExitStatus FromSiginfo(const siginfo_t& info) {
  ExitStatus st;
  if (info.si_code == CLD_EXITED) {
    st.code = info.si_status;
  } else {
    st.signal = info.si_status;
  }
  return st;
}

absl::StatusOr<ExitStatus> ReapPidfd(int pidfd, std::string_view what) {
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED | __WALL) != 0) {
    if (errno != EINTR) return ErrnoError("waitid", what);
  }
  return FromSiginfo(info);
}

// The argv/envp arrays of a command, pointing into its strings.
struct ExecArrays {
  std::vector<char*> argv;
  std::vector<char*> envp;
};

absl::StatusOr<ExecArrays> PrepareExec(const Command& cmd) {
  if (cmd.path.empty() || cmd.path[0] != '/') {
    return absl::InvalidArgumentError(StrCat("executable path must be absolute: \"", cmd.path, "\""));
  }
  if (!cmd.dir.empty() && cmd.dir[0] != '/') {
    return absl::InvalidArgumentError(StrCat("working directory must be absolute: \"", cmd.dir, "\""));
  }
  ExecArrays a;
  if (cmd.args.empty()) {
    a.argv.push_back(const_cast<char*>(cmd.path.c_str()));
  } else {
    for (const std::string& s : cmd.args) a.argv.push_back(const_cast<char*>(s.c_str()));
  }
  a.argv.push_back(nullptr);
  for (const std::string& s : cmd.env) a.envp.push_back(const_cast<char*>(s.c_str()));
  a.envp.push_back(nullptr);
  return a;
}

absl::Status AddFd(ChildPlan* plan, int child_fd, int parent_fd) {
  if (plan->nfds == kMaxMappedFds)
    return absl::InvalidArgumentError("too many file descriptors to hand over");
  if (child_fd < 0 || parent_fd < 0) {
    return absl::InvalidArgumentError(StrCat("bad file descriptor mapping ", child_fd, " <- ", parent_fd));
  }
  for (int i = 0; i < plan->nfds; ++i) {
    if (plan->dst[i] == child_fd) {
      return absl::InvalidArgumentError(StrCat("file descriptor ", child_fd, " handed over twice"));
    }
  }
  plan->src[plan->nfds] = parent_fd;
  plan->dst[plan->nfds] = child_fd;
  plan->nfds++;
  plan->max_dst = std::max(plan->max_dst, child_fd);
  return absl::OkStatus();
}

absl::Status ChildError(int stage, int err, const Command& cmd) {
  if (stage == kChdir) return ErrnoError(err, StrCat("chdir to ", cmd.dir, " for"), cmd.path);
  return ErrnoError(err, StageVerb(stage), cmd.path);
}

int PollMillis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  if (d <= absl::ZeroDuration()) return 0;
  int64_t ms = absl::ToInt64Milliseconds(d + absl::Microseconds(999));
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

absl::StatusOr<UniqueFd> OpenDevNull() {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", "/dev/null");
  return UniqueFd(fd);
}

struct Pipe {
  UniqueFd r, w;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", "");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is available from `fd` into `out` up to `limit`; the excess is discarded. Returns false
// at EOF or on error.
bool Drain(int fd, size_t limit, std::string* out, bool* truncated) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      size_t keep = std::min(static_cast<size_t>(n), limit - std::min(limit, out->size()));
      out->append(buf, keep);
      if (keep < static_cast<size_t>(n)) *truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return StrCat("killed by signal ", signal, name ? StrCat(" (SIG", name, ")") : "");
  }
  return StrCat("exit status ", code);
}

absl::StatusOr<RunResult> RunProcess(const Command& cmd, const RunOptions& opts) {
  ASSIGN_OR_RETURN(ExecArrays arrays, PrepareExec(cmd));
  ASSIGN_OR_RETURN(Pipe in, MakePipe());
  ASSIGN_OR_RETURN(Pipe out, MakePipe());
  ASSIGN_OR_RETURN(Pipe err, MakePipe());
  ChildPlan plan;
  plan.path = cmd.path.c_str();
  plan.argv = arrays.argv.data();
  plan.envp = arrays.envp.data();
  plan.dir = cmd.dir.empty() ? nullptr : cmd.dir.c_str();
  plan.die_with_parent = true;
  plan.parent_pid = getpid();
  RETURN_IF_ERROR(AddFd(&plan, 0, in.r.get()));
  RETURN_IF_ERROR(AddFd(&plan, 1, out.w.get()));
  RETURN_IF_ERROR(AddFd(&plan, 2, err.w.get()));
  int64_t start = MonotonicNow();
  pid_t pid = -1;
  ASSIGN_OR_RETURN(UniqueFd pidfd, CloneChild(&plan, &pid));
  out.w.reset();
  err.w.reset();
  if (plan.stage != kNone) {
    (void)ReapPidfd(pidfd.get(), cmd.path);
    return ChildError(plan.stage, plan.error, cmd);
  }
  // `in.r` stays open here until the end: writing stdin can then never raise SIGPIPE in the daemon
  // when the child exits without reading; the write just stops once the child is gone.
  SetNonBlocking(in.w.get());
  SetNonBlocking(out.r.get());
  SetNonBlocking(err.r.get());
  if (opts.stdin_data.empty()) in.w.reset();

  RunResult result;
  size_t written = 0;
  bool exited = false;
  int64_t deadline =
      opts.timeout == absl::InfiniteDuration() ? INT64_MAX : start + absl::ToInt64Nanoseconds(opts.timeout);
  int64_t grace_deadline = INT64_MAX;
  while (out.r.valid() || err.r.valid() || !exited) {
    int64_t now = MonotonicNow();
    if (!exited && now >= deadline && !result.timed_out) {
      result.timed_out = true;
      PidfdSendSignal(pidfd.get(), SIGKILL);
    }
    if (exited && now >= grace_deadline) break;
    pollfd fds[4];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1, idx_pid = -1;
    if (in.w.valid() && !exited) idx_in = n, fds[n++] = {in.w.get(), POLLOUT, 0};
    if (out.r.valid()) idx_out = n, fds[n++] = {out.r.get(), POLLIN, 0};
    if (err.r.valid()) idx_err = n, fds[n++] = {err.r.get(), POLLIN, 0};
    if (!exited) idx_pid = n, fds[n++] = {pidfd.get(), POLLIN, 0};
    int64_t until = exited ? grace_deadline : (result.timed_out ? INT64_MAX : deadline);
    int wait_ms = until == INT64_MAX ? -1 : PollMillis(absl::Nanoseconds(until - now));
    int rc = poll(fds, n, wait_ms);
    if (rc < 0 && errno != EINTR) return ErrnoError("poll output of", cmd.path);
    if (rc <= 0) continue;
    if (idx_in >= 0 && fds[idx_in].revents) {
      ssize_t w = write(in.w.get(), opts.stdin_data.data() + written, opts.stdin_data.size() - written);
      if (w > 0) written += w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == opts.stdin_data.size()) in.w.reset();
    }
    if (idx_out >= 0 && fds[idx_out].revents &&
        !Drain(out.r.get(), opts.stdout_limit, &result.stdout_data, &result.stdout_truncated)) {
      out.r.reset();
    }
    if (idx_err >= 0 && fds[idx_err].revents &&
        !Drain(err.r.get(), opts.stderr_limit, &result.stderr_data, &result.stderr_truncated)) {
      err.r.reset();
    }
    if (idx_pid >= 0 && fds[idx_pid].revents) {
      ASSIGN_OR_RETURN(result.status, ReapPidfd(pidfd.get(), cmd.path));
      exited = true;
      in.w.reset();
      grace_deadline = MonotonicNow() + absl::ToInt64Nanoseconds(opts.output_grace);
    }
  }
  result.elapsed = absl::Nanoseconds(MonotonicNow() - start);
  return result;
}

Process::~Process() {
  if (!pidfd_.valid() || reparented_ || reaped_) return;
  siginfo_t info;
  waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED | WNOHANG | __WALL);
}

absl::Status Process::Signal(int sig) {
  if (reaped_) return absl::OkStatus();
  if (PidfdSendSignal(pidfd_.get(), sig) != 0 && errno != ESRCH) {
    return ErrnoError(errno, StrCat("signal ", sig, " to"), StrCat("pid ", pid_));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Process::WaitExited(absl::Duration timeout) {
  if (reaped_) return true;
  int64_t deadline =
      timeout == absl::InfiniteDuration() ? INT64_MAX : MonotonicNow() + absl::ToInt64Nanoseconds(timeout);
  for (;;) {
    pollfd p = {pidfd_.get(), POLLIN, 0};
    int64_t now = MonotonicNow();
    int wait_ms =
        deadline == INT64_MAX ? -1 : PollMillis(absl::Nanoseconds(std::max<int64_t>(0, deadline - now)));
    int rc = poll(&p, 1, wait_ms);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return ErrnoError("poll pidfd of", StrCat("pid ", pid_));
  }
}

absl::StatusOr<ExitStatus> Process::Wait(absl::Duration timeout) {
  if (reparented_) {
    return absl::FailedPreconditionError(StrCat("pid ", pid_, " was reparented; it cannot be reaped here"));
  }
  if (reaped_) return absl::FailedPreconditionError(StrCat("pid ", pid_, " was already reaped"));
  ASSIGN_OR_RETURN(bool exited, WaitExited(timeout));
  if (!exited) return absl::DeadlineExceededError(StrCat("pid ", pid_, " still running"));
  ASSIGN_OR_RETURN(ExitStatus st, ReapPidfd(pidfd_.get(), StrCat("pid ", pid_)));
  reaped_ = true;
  return st;
}

absl::StatusOr<ExitStatus> Process::Kill() {
  RETURN_IF_ERROR(Signal(SIGKILL));
  if (reparented_) {
    ASSIGN_OR_RETURN(bool exited, WaitExited(absl::InfiniteDuration()));
    (void)exited;
    return ExitStatus{-1, SIGKILL};
  }
  return Wait();
}

absl::StatusOr<Process> SpawnProcess(const Command& cmd, const SpawnOptions& opts) {
  ASSIGN_OR_RETURN(ExecArrays arrays, PrepareExec(cmd));
  ASSIGN_OR_RETURN(UniqueFd devnull, OpenDevNull());
  ChildPlan plan;
  plan.path = cmd.path.c_str();
  plan.argv = arrays.argv.data();
  plan.envp = arrays.envp.data();
  plan.dir = cmd.dir.empty() ? nullptr : cmd.dir.c_str();
  plan.new_session = opts.new_session;
  plan.reparent = opts.reparent;
  RETURN_IF_ERROR(AddFd(&plan, 0, opts.stdin_fd >= 0 ? opts.stdin_fd : devnull.get()));
  RETURN_IF_ERROR(AddFd(&plan, 1, opts.stdout_fd >= 0 ? opts.stdout_fd : devnull.get()));
  RETURN_IF_ERROR(AddFd(&plan, 2, opts.stderr_fd >= 0 ? opts.stderr_fd : devnull.get()));
  for (const auto& [child_fd, parent_fd] : opts.extra_fds) {
    if (child_fd < 3) return absl::InvalidArgumentError(StrCat("extra fd number ", child_fd, " is below 3"));
    RETURN_IF_ERROR(AddFd(&plan, child_fd, parent_fd));
  }
  Pipe report;
  UniqueFd pidfd_r, pidfd_w;
  if (opts.reparent) {
    ASSIGN_OR_RETURN(report, MakePipe());
    plan.report_fd = report.w.get();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoError("socketpair", "the pidfd of a reparented child");
    }
    pidfd_r.reset(sv[0]);
    pidfd_w.reset(sv[1]);
    plan.pidfd_sock = pidfd_w.get();
  }
  pid_t pid = -1;
  ASSIGN_OR_RETURN(UniqueFd pidfd, CloneChild(&plan, &pid));
  if (!opts.reparent) {
    if (plan.stage != kNone) {
      (void)ReapPidfd(pidfd.get(), cmd.path);
      return ChildError(plan.stage, plan.error, cmd);
    }
    return Process(pid, std::move(pidfd), false);
  }
  // The intermediate has exited (CLONE_VFORK returned on its exit); reap it, then learn from the pipe
  // whether the real child reached execve (EOF) or failed before (a report).
  (void)ReapPidfd(pidfd.get(), cmd.path);
  report.w.reset();
  pidfd_w.reset();
  if (plan.stage != kNone) return ChildError(plan.stage, plan.error, cmd);
  char one = 0;
  int received = -1;
  ssize_t got = RecvWithFd(pidfd_r.get(), &one, 1, &received);
  UniqueFd child_pidfd(received);
  if (got != 1 || !child_pidfd) {
    return absl::InternalError(
        StrCat("no pidfd of the reparented child ", cmd.path, " (pid ", plan.grandchild_pid, ")"));
  }
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = read(report.r.get(), msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(msg)) return ChildError(msg[0], msg[1], cmd);
  return Process(plan.grandchild_pid, std::move(child_pidfd), true);
}

}  // namespace cricket::sys
