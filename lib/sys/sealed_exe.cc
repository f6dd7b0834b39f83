#include "lib/sys/sealed_exe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/common/status.h"
#include "lib/common/strings.h"

extern char** environ;

namespace cricket::sys {

absl::StatusOr<UniqueFd> SealedCopy(const std::string& path) {
  UniqueFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return ErrnoError("open", path);
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return ErrnoError("stat", path);
  UniqueFd mem(
      static_cast<int>(::syscall(SYS_memfd_create, "cricket-sealed-exe", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!mem) return ErrnoError("memfd_create", "sealed executable");
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(mem.get(), src.get(), nullptr, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("copy", path);
    left -= n;
  }
  if (::fchmod(mem.get(), 0555) != 0) return ErrnoError("chmod", "sealed executable");
  if (::fcntl(mem.get(), F_ADD_SEALS, kExeSeals) != 0) return ErrnoError("seal", "sealed executable");
  return mem;
}

bool RunsFromSealedCopy(int pid) {
  std::string exe = pid == 0 ? "/proc/self/exe" : StrCat("/proc/", pid, "/exe");
  UniqueFd fd(::open(exe.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  return seals >= 0 && (seals & kExeSeals) == kExeSeals;
}

absl::Status ReexecFromSealedCopy(char** argv) {
  if (RunsFromSealedCopy()) return absl::OkStatus();
  ASSIGN_OR_RETURN(UniqueFd mem, SealedCopy("/proc/self/exe"));
  ::syscall(SYS_execveat, mem.get(), "", argv, environ, AT_EMPTY_PATH);
  return ErrnoError("exec", "sealed copy of /proc/self/exe");
}

}  // namespace cricket::sys
