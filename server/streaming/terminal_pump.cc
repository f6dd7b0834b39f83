#include "server/streaming/terminal_pump.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace cricket::streaming {
namespace {

// Reaps the child behind `pidfd`; its status in waitpid's form.
int ReapPidfd(int pidfd) {
  siginfo_t info{};
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | __WALL) != 0) {
    if (errno != EINTR) return 0;
  }
  switch (info.si_code) {
    case CLD_EXITED:
      return (info.si_status & 0xff) << 8;
    case CLD_KILLED:
      return info.si_status & 0x7f;
    case CLD_DUMPED:
      return (info.si_status & 0x7f) | 0x80;
    default:
      return 0;
  }
}

}  // namespace

int PumpTerminal(int master, pid_t pid, int pidfd, StreamIo& io) {
  int in = io.stdin_fd(), out = io.stdout_fd();
  std::string to_terminal;
  bool exited = false, master_done = false;
  char buf[16384];
  while (!master_done) {
    pollfd fds[5] = {{master, POLLIN, 0},
                     {pidfd, POLLIN, 0},
                     {io.resize_fd(), POLLIN, 0},
                     {in, POLLIN, 0},
                     {io.cancel_fd(), POLLIN, 0}};
    if (!to_terminal.empty()) fds[0].events |= POLLOUT;
    if (exited) fds[1].fd = -1;
    if (!to_terminal.empty() || in < 0) fds[3].fd = -1;
    poll(fds, 5, exited ? 100 : -1);
    if (fds[4].revents != 0) {
      // Cancelled. The child is not reaped yet (at most a zombie): `pid` still names it and its group.
      kill(-pid, SIGKILL);
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      break;  // a daemonised descendant may hold the terminal open for ever: do not wait for its EOF
    }
    while (auto size = io.NextResize()) {
      winsize ws{};
      ws.ws_col = size->width;
      ws.ws_row = size->height;
      ioctl(master, TIOCSWINSZ, &ws);
    }
    if (fds[3].revents != 0) {
      const ssize_t n = read(in, buf, sizeof(buf));
      if (n > 0) {
        to_terminal.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        in = -1;
        // The client's stdin ended: like a terminal user pressing ^D at line start.
        to_terminal.push_back('\x04');
      }
    }
    if (!to_terminal.empty() && (fds[0].revents & POLLOUT)) {
      const ssize_t n = write(master, to_terminal.data(), to_terminal.size());
      if (n > 0) to_terminal.erase(0, static_cast<size_t>(n));
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = read(master, buf, sizeof(buf));
      if (n > 0) {
        if (out >= 0 && write(out, buf, static_cast<size_t>(n)) < 0) out = -1;
      } else if (n == 0 || (n < 0 && errno == EIO)) {
        master_done = true;  // EIO: every slave descriptor is closed
      }
    } else if (exited && fds[0].revents == 0) {
      master_done = true;  // exited and nothing left to read (a daemonised grandchild may hold the slave)
    }
    // The pidfd is readable once the child exited; it stays a zombie, unreaped, until the end.
    if (!exited && fds[1].revents != 0) exited = true;
  }
  return ReapPidfd(pidfd);
}

}  // namespace cricket::streaming
