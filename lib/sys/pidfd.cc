#include "lib/sys/pidfd.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

// The fields of /proc/<pid>/stat after the "(comm)" field: index 0 is field 3 (state).
absl::StatusOr<std::vector<std::string>> StatFields(pid_t pid) {
  std::string path = StrCat("/proc/", pid, "/stat");
  auto text = ReadFile(path, 4096);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()))
      return absl::NotFoundError(StrCat("process ", pid, " does not exist"));
    return text.status();
  }
  // comm may contain spaces and parentheses: the fields start after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return absl::InternalError(StrCat("malformed ", path));
  std::vector<std::string> fields;
  for (std::string_view f : Split(TrimSpace(std::string_view(*text).substr(close + 1)), ' ')) {
    fields.emplace_back(f);
  }
  if (fields.size() < 20) return absl::InternalError(StrCat("malformed ", path));
  return fields;
}

}  // namespace

absl::StatusOr<uint64_t> ReadProcessStartTime(pid_t pid) {
  ASSIGN_OR_RETURN(auto fields, StatFields(pid));
  auto v = ParseUint64(fields[19]);  // field 22
  if (!v) return absl::InternalError(StrCat("malformed start time in /proc/", pid, "/stat"));
  return *v;
}

absl::StatusOr<char> ReadProcessState(pid_t pid) {
  ASSIGN_OR_RETURN(auto fields, StatFields(pid));
  return fields[0].empty() ? '?' : fields[0][0];
}

absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid) {
  ASSIGN_OR_RETURN(uint64_t start, ReadProcessStartTime(pid));
  return ProcessIdentity{pid, start};
}

absl::StatusOr<int> ReadZombieWaitStatus(const ProcessIdentity& id) {
  ASSIGN_OR_RETURN(auto fields, StatFields(id.pid));
  auto start = ParseUint64(fields[19]);  // field 22
  if (!start || *start != id.start_time) {
    return absl::NotFoundError(
        StrCat("process ", id.pid, " has exited (the pid now belongs to another process)"));
  }
  if (fields[0] != "Z") return absl::FailedPreconditionError(StrCat("process ", id.pid, " has not exited"));
  std::optional<int64_t> status = fields.size() > 49 ? ParseInt64(fields[49]) : std::nullopt;  // field 52
  if (!status) return absl::InternalError(StrCat("no exit code in /proc/", id.pid, "/stat"));
  return static_cast<int>(*status);
}

absl::StatusOr<pid_t> PidOfPidFd(int pidfd) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(StrCat("/proc/self/fdinfo/", pidfd), 4096));
  for (std::string_view line : Split(text, '\n')) {
    if (!line.starts_with("Pid:")) continue;
    auto v = ParseInt64(TrimSpace(line.substr(4)));
    if (!v) break;
    if (*v <= 0) return absl::NotFoundError("process of pidfd has been reaped");
    return static_cast<pid_t>(*v);
  }
  return absl::InternalError(StrCat("no Pid: line in fdinfo of fd ", pidfd));
}

absl::StatusOr<PidFd> PidFd::Open(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return absl::NotFoundError(StrCat("process ", pid, " does not exist"));
    return ErrnoError("pidfd_open", StrCat(pid));
  }
  return PidFd(UniqueFd(fd), pid);
}

absl::StatusOr<PidFd> PidFd::OpenIdentity(const ProcessIdentity& id) {
  if (id.pid <= 0) return absl::NotFoundError("no process recorded");
  ASSIGN_OR_RETURN(PidFd pidfd, Open(id.pid));
  auto start = ReadProcessStartTime(id.pid);
  if (!start.ok()) return start.status();
  if (*start != id.start_time) {
    return absl::NotFoundError(
        StrCat("process ", id.pid, " has exited (the pid now belongs to another process)"));
  }
  return pidfd;
}

absl::Status PidFd::Signal(int sig) const {
  if (::syscall(SYS_pidfd_send_signal, fd_.get(), sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return absl::NotFoundError(StrCat("process ", pid_, " has exited"));
    return ErrnoError("signal", StrCat("process ", pid_));
  }
  return absl::OkStatus();
}

bool PidFd::Exited() const {
  pollfd p{fd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

absl::StatusOr<bool> PidFd::WaitExited(int timeout_ms) const {
  pollfd p{fd_.get(), POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return ErrnoError("poll pidfd of", StrCat("process ", pid_));
  }
}

absl::StatusOr<std::optional<int>> PidFd::Reap(bool nohang) const {
  siginfo_t info{};
  for (;;) {
    int r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd_.get()), &info,
                     WEXITED | (nohang ? WNOHANG : 0));
    if (r == 0) break;
    if (errno != EINTR) return ErrnoError("wait for", StrCat("process ", pid_));
  }
  if (info.si_pid == 0) return std::optional<int>();
  int status = 0;
  if (info.si_code == CLD_EXITED) {
    status = (info.si_status & 0xff) << 8;
  } else {
    status = info.si_status & 0x7f;
    if (info.si_code == CLD_DUMPED) status |= 0x80;
  }
  return std::optional<int>(status);
}

int ShellExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

}  // namespace cricket::sys
