// Running from a sealed copy of our own executable (the CVE-2019-5736 class).
//
// A container init is a clone of the runtime process until it execs the user program; if that program
// is a script starting "#!/proc/self/exe", the kernel runs the runtime's own binary inside the
// container, and a process there could then open that binary through /proc and overwrite it on the
// host. A process started from a memfd copy sealed against writes has nothing to overwrite: its
// /proc/self/exe is the memfd, whose content can never change.
//
// The cricket-runtime CLI re-execs itself this way for create, run and exec. In-process users of
// lib/runtime (cricket-conmon) must be started from a sealed copy by whoever starts them (cricketd:
// SealedCopy once, then execveat(fd, "", ..., AT_EMPTY_PATH) for every monitor).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::sys {

// F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE.
inline constexpr int kExeSeals = 0x0001 | 0x0002 | 0x0004 | 0x0008;

// A memfd holding a copy of the file at `path`, sealed with kExeSeals, close-on-exec.
absl::StatusOr<UniqueFd> SealedCopy(const std::string& path);

// True when the executable of `pid` (0: ourselves) is a memfd carrying kExeSeals.
bool RunsFromSealedCopy(int pid = 0);

// Unless RunsFromSealedCopy(), execs a sealed copy of /proc/self/exe with the same argv and environment.
// Returns only on failure.
absl::Status ReexecFromSealedCopy(char** argv);

}  // namespace cricket::sys
