// The message channel between the runtime and the processes it clones (the container init, the
// intermediate process, exec'd processes): fixed-size messages on a SOCK_SEQPACKET socketpair, with
// an optional fd passed by SCM_RIGHTS. The child side is async-signal-safe (no allocation).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::runtime {

enum class SyncType : uint32_t {
  kContinue = 1,  // parent → child: go on to the next phase
  kError,         // child → parent: a step failed (err = errno, text = what failed); the child exits
  kWarning,       // child → parent: something was adjusted; log text and go on
  kHookPoint,     // child → parent: the rootfs is ready before pivot_root; run hooks, then kContinue
  kConsole,       // child → parent: the pty master (SCM_RIGHTS)
  kReady,         // child → parent: fully set up; waiting for start (init) / about to execve (exec)
  kStage2,        // intermediate → parent: the pidfd of the process it cloned (SCM_RIGHTS)
  kJoined,        // parent → child: the child is in its cgroup and its limits are applied
};

struct SyncMsg {
  uint32_t type = 0;
  int32_t err = 0;
  char text[1016] = {};
};
static_assert(sizeof(SyncMsg) == 1024);

// Child side. `text`, `object` may be null. Returns 0 or -errno.
int SyncSend(int fd, SyncType type, int err = 0, const char* text = nullptr, const char* object = nullptr,
             int pass_fd = -1);
// Blocks for one message; *received_fd gets a passed fd or -1. Returns 0, -EPIPE on EOF, or -errno.
int SyncRecv(int fd, SyncMsg* msg, int* received_fd);
// Waits for a message of `type`; anything else (or EOF) is -EPIPE.
int SyncWaitFor(int fd, SyncType type);
inline int SyncWaitContinue(int fd) { return SyncWaitFor(fd, SyncType::kContinue); }

// A connected socketpair (SOCK_SEQPACKET, close-on-exec): [0] for the parent, [1] for the child.
absl::Status MakeSyncPair(UniqueFd* parent, UniqueFd* child);

// Parent side: receives one message with a timeout (ms, < 0 forever). DeadlineExceeded on timeout;
// Aborted on EOF.
struct Received {
  SyncMsg msg;
  UniqueFd fd;
};
absl::StatusOr<Received> SyncReceive(int fd, int timeout_ms);
// Sends kContinue (or another parent → child message without payload).
absl::Status SyncContinue(int fd, SyncType type = SyncType::kContinue);

// When a step of the parent failed because the child had already given up (EOF, ESRCH), the child's
// own kError message, still queued on the socket, is the better explanation: returns it if there is
// one, else `status`.
absl::Status PreferChildError(int fd, const absl::Status& status);

// "text: ENOENT (No such file or directory)" for a kError message.
std::string DescribeError(const SyncMsg& msg);

}  // namespace cricket::runtime
