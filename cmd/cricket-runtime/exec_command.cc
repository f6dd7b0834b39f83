// exec, the wait loop shared with run (signal forwarding, terminal proxy), update and features.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "cmd/cricket-runtime/commands.h"
#include "cmd/cricket-runtime/flags.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"

namespace cricket::cli {
namespace {

// Copies what is readable on `from` to `to`; false on EOF or error.
bool Pump(int from, int to) {
  char buf[8192];
  ssize_t n = ::read(from, buf, sizeof(buf));
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

absl::StatusOr<oci::Process> ProcessFromFlags(runtime::Runtime& rt, const ParsedArgs& p,
                                              const std::string& id) {
  if (p.Has("process")) {
    std::string path = p.Get("process");
    ASSIGN_OR_RETURN(std::string text,
                     path == "-" ? absl::StatusOr<std::string>(ReadFile("/dev/stdin")) : ReadFile(path));
    ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, path));
    return oci::ParseProcess(j, "");
  }
  // Like runc: the container's own process, with the command and the flags' changes.
  ASSIGN_OR_RETURN(oci::Spec spec, rt.Spec(id));
  oci::Process proc = spec.process.value_or(oci::Process{});
  proc.args.assign(p.positional.begin() + 1, p.positional.end());
  if (proc.args.empty()) return absl::InvalidArgumentError("exec: no command given");
  proc.terminal = p.Bool("tty");
  proc.console_size.reset();
  if (p.Has("cwd")) proc.cwd = p.Get("cwd");
  for (const std::string& e : p.All("env")) {
    std::string key = e.substr(0, e.find('='));
    std::erase_if(proc.env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
    proc.env.push_back(e);
  }
  if (p.Has("user")) {
    std::string u = p.Get("user");
    auto colon = SplitOnce(u, ':');
    auto uid = ParseUint64(colon ? colon->first : std::string_view(u));
    if (!uid) return absl::InvalidArgumentError(StrCat("--user: expected uid[:gid], got \"", u, "\""));
    proc.user.uid = static_cast<uint32_t>(*uid);
    if (colon) {
      auto gid = ParseUint64(colon->second);
      if (!gid) return absl::InvalidArgumentError(StrCat("--user: expected uid[:gid], got \"", u, "\""));
      proc.user.gid = static_cast<uint32_t>(*gid);
    }
  }
  for (const std::string& g : p.All("additional-gids")) {
    auto gid = ParseUint64(g);
    if (!gid) return absl::InvalidArgumentError(StrCat("--additional-gids: bad gid \"", g, "\""));
    proc.user.additional_gids.push_back(static_cast<uint32_t>(*gid));
  }
  if (p.Bool("no-new-privs")) proc.no_new_privileges = true;
  if (p.Has("apparmor")) proc.apparmor_profile = p.Get("apparmor");
  if (p.Has("process-label")) proc.selinux_label = p.Get("process-label");
  for (const std::string& c : p.All("cap")) {
    ASSIGN_OR_RETURN(std::string name, oci::CanonicalCapabilityName(c));
    if (!proc.capabilities) proc.capabilities.emplace();
    for (auto* set :
         {&proc.capabilities->bounding, &proc.capabilities->effective, &proc.capabilities->permitted}) {
      set->push_back(name);
    }
  }
  return proc;
}

}  // namespace

absl::StatusOr<int> WaitForwarding(const sys::PidFd& pidfd, int console) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&set, s);
  sigset_t old;
  sigprocmask(SIG_BLOCK, &set, &old);
  absl::Cleanup restore = [&] { sigprocmask(SIG_SETMASK, &old, nullptr); };
  UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return ErrnoError("create", "signalfd");
  termios saved{};
  const bool raw = console >= 0 && isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
    winsize ws{};
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(console, TIOCSWINSZ, &ws);
  }
  absl::Cleanup unraw = [&] {
    if (raw) tcsetattr(0, TCSANOW, &saved);
  };
  bool stdin_open = console >= 0, console_open = console >= 0;
  for (;;) {
    pollfd fds[4] = {{pidfd.get(), POLLIN, 0},
                     {sfd.get(), POLLIN, 0},
                     {stdin_open ? 0 : -1, POLLIN, 0},
                     {console_open ? console : -1, POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("poll", "container");
    }
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) console_open = Pump(console, 1);
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) stdin_open = Pump(0, console);
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si{};
      if (::read(sfd.get(), &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGWINCH) {
          winsize ws{};
          if (console >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(console, TIOCSWINSZ, &ws);
        } else {
          (void)pidfd.Signal(static_cast<int>(si.ssi_signo));
        }
      }
    }
    if (fds[0].revents & POLLIN) {
      while (console_open && Pump(console, 1)) {
      }
      break;
    }
  }
  ASSIGN_OR_RETURN(auto status, pidfd.Reap());
  return status ? sys::ShellExitCode(*status) : 255;
}

absl::StatusOr<int> CmdExec(runtime::Runtime& rt, const Args& args, size_t begin) {
  static const std::vector<FlagSpec> kFlags = {{"process", "p", false},
                                               {"tty", "t", true},
                                               {"detach", "d", true},
                                               {"pid-file", "", false},
                                               {"cwd", "", false},
                                               {"env", "e", false},
                                               {"user", "u", false},
                                               {"additional-gids", "g", false},
                                               {"console-socket", "", false},
                                               {"preserve-fds", "", false},
                                               {"cap", "c", false},
                                               {"no-new-privs", "", true},
                                               {"apparmor", "", false},
                                               {"process-label", "", false},
                                               {"ignore-paused", "", true}};
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, kFlags));
  if (p.positional.empty()) return absl::InvalidArgumentError("\"exec\" requires the container id");
  const std::string id = p.positional[0];
  runtime::ExecOptions o;
  ASSIGN_OR_RETURN(o.process, ProcessFromFlags(rt, p, id));
  if (p.Bool("tty")) o.process.terminal = true;
  o.console_socket = p.Get("console-socket");
  o.pid_file = p.Get("pid-file");
  o.stdio[0] = 0;
  o.stdio[1] = 1;
  o.stdio[2] = 2;
  if (p.Has("preserve-fds")) {
    auto n = ParseInt64(p.Get("preserve-fds"));
    if (!n || *n < 0 || *n > 1000) return absl::InvalidArgumentError("--preserve-fds: expected a count");
    for (int i = 0; i < *n; ++i) o.extra_fds.push_back(3 + i);
  }
  const bool detach = p.Bool("detach");
  if (detach && o.process.terminal && o.console_socket.empty()) {
    return absl::InvalidArgumentError("cannot allocate a tty when detaching without --console-socket");
  }
  ASSIGN_OR_RETURN(runtime::ExecResult r, rt.Exec(id, o));
  if (detach) return 0;
  return WaitForwarding(r.pidfd, r.console ? r.console.get() : -1);
}

}  // namespace cricket::cli
