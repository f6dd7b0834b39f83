#include "server/streaming/testing/local_process_runtime.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/streaming/terminal_pump.h"

extern char** environ;

namespace cricket::streaming::testing {
namespace {

absl::StatusOr<std::string> ResolvePath(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) != 0) return ErrnoError("exec", name);
    return name;
  }
  const char* path = getenv("PATH");
  for (std::string_view dir : Split(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = StrCat(dir.empty() ? "." : dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(StrCat("executable \"", name, "\" not found in $PATH"));
}

int ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

}  // namespace

void LocalProcessRuntime::AddContainer(const std::string& container_id, std::vector<std::string> cmd) {
  absl::MutexLock lock(&mu_);
  containers_[container_id] = std::move(cmd);
}

void LocalProcessRuntime::AddSandbox(const std::string& sandbox_id) {
  absl::MutexLock lock(&mu_);
  sandboxes_.insert(sandbox_id);
}

absl::StatusOr<int> LocalProcessRuntime::Run(const std::vector<std::string>& cmd, StreamIo& io) {
  if (cmd.empty()) return absl::InvalidArgumentError("empty command");
  ASSIGN_OR_RETURN(std::string path, ResolvePath(cmd[0]));
  std::vector<char*> argv;
  for (const std::string& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  UniqueFd master, slave;
  if (io.tty()) {
    int m, s;
    if (openpty(&m, &s, nullptr, nullptr, nullptr) != 0) return ErrnoError("openpty", "exec");
    master.reset(m);
    slave.reset(s);
    fcntl(m, F_SETFD, FD_CLOEXEC);
  }
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  UniqueFd in = io.tty() ? UniqueFd() : io.TakeStdin();
  UniqueFd out = io.tty() ? UniqueFd() : io.TakeStdout();
  UniqueFd err = io.tty() ? UniqueFd() : io.TakeStderr();
  const int fd0 = io.tty() ? slave.get() : (in ? in.get() : devnull.get());
  const int fd1 = io.tty() ? slave.get() : (out ? out.get() : devnull.get());
  const int fd2 = io.tty() ? slave.get() : (err ? err.get() : devnull.get());
  const bool tty = io.tty();

  const pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", path);
  if (pid == 0) {
    // Async-signal-safe calls only: this process was forked from a multithreaded one.
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setsid();  // its own process group, so that a kill reaches its children too
    if (tty) ioctl(fd0, TIOCSCTTY, 0);
    dup2(fd0, 100);
    dup2(fd1, 101);
    dup2(fd2, 102);
    dup2(100, 0);
    dup2(101, 1);
    dup2(102, 2);
    close(100);
    close(101);
    close(102);
    execve(path.c_str(), argv.data(), environ);
    _exit(127);
  }
  in.reset();
  out.reset();
  err.reset();
  slave.reset();
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return ErrnoError("pidfd_open", path);
  }
  int wstatus = 0;
  if (tty) {
    wstatus = PumpTerminal(master.get(), pid, pidfd.get(), io);
  } else {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {io.cancel_fd(), POLLIN, 0}};
    while (poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    // Whatever is left of the process group (background children) goes too: nothing outlives a session.
    // The leader is not reaped yet, so the group's id is still its own.
    kill(-pid, SIGKILL);
    waitpid(pid, &wstatus, 0);
  }
  return ExitCodeOf(wstatus);
}

absl::StatusOr<int> LocalProcessRuntime::Exec(const ExecParams& params, StreamIo& io) {
  return Run(params.cmd, io);
}

absl::Status LocalProcessRuntime::Attach(const AttachParams& params, StreamIo& io) {
  std::vector<std::string> cmd;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(params.container_id);
    if (it == containers_.end())
      return absl::NotFoundError(StrCat("container ", params.container_id, " not found"));
    cmd = it->second;
  }
  ASSIGN_OR_RETURN(int code, Run(cmd, io));
  (void)code;  // attach reports no exit code
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> LocalProcessRuntime::DialPort(const std::string& sandbox_id, int32_t port) {
  {
    absl::MutexLock lock(&mu_);
    if (!sandboxes_.contains(sandbox_id))
      return absl::NotFoundError(StrCat("sandbox ", sandbox_id, " not found"));
  }
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoError("create socket for", "port-forward");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string where = StrCat("127.0.0.1:", port);
  // Returned while still connecting, as StreamingRuntime::DialPort allows: the server waits for it.
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    return ErrnoError("dial", where);
  }
  return fd;
}

}  // namespace cricket::streaming::testing
