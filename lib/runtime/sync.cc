#include "lib/runtime/sync.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/sys/fd_passing.h"
#include "lib/sys/sys.h"

namespace cricket::runtime {

int SyncSend(int fd, SyncType type, int err, const char* text, const char* object, int pass_fd) {
  SyncMsg msg;
  msg.type = static_cast<uint32_t>(type);
  msg.err = err;
  if (text != nullptr) sys::SafeAppend(msg.text, sizeof(msg.text), text);
  if (object != nullptr && object[0] != '\0') {
    sys::SafeAppend(msg.text, sizeof(msg.text), " ");
    sys::SafeAppend(msg.text, sizeof(msg.text), object);
  }
  return sys::SendWithFd(fd, &msg, sizeof(msg), pass_fd);
}

int SyncRecv(int fd, SyncMsg* msg, int* received_fd) {
  ssize_t n = sys::RecvWithFd(fd, msg, sizeof(*msg), received_fd);
  if (n < 0) return static_cast<int>(n);
  if (n == 0) return -EPIPE;
  if (static_cast<size_t>(n) != sizeof(*msg)) return -EPROTO;
  msg->text[sizeof(msg->text) - 1] = '\0';
  return 0;
}

int SyncWaitFor(int fd, SyncType type) {
  SyncMsg msg;
  int passed = -1;
  int r = SyncRecv(fd, &msg, &passed);
  if (passed >= 0) ::close(passed);
  if (r < 0) return r;
  return msg.type == static_cast<uint32_t>(type) ? 0 : -EPIPE;
}

absl::Status MakeSyncPair(UniqueFd* parent, UniqueFd* child) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return ErrnoError("create", "socketpair");
  parent->reset(sv[0]);
  child->reset(sv[1]);
  return absl::OkStatus();
}

absl::StatusOr<Received> SyncReceive(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r > 0) break;
    if (r == 0) return absl::DeadlineExceededError("timed out waiting for the container process");
    if (errno != EINTR) return ErrnoError("poll", "sync socket");
  }
  Received out;
  int passed = -1;
  int r = SyncRecv(fd, &out.msg, &passed);
  out.fd.reset(passed);
  if (r == -EPIPE || r == -ECONNRESET) return absl::AbortedError("the container process exited during setup");
  if (r < 0) return ErrnoError(-r, "receive from", "sync socket");
  return out;
}

absl::Status SyncContinue(int fd, SyncType type) {
  int r = SyncSend(fd, type);
  if (r == -EPIPE || r == -ECONNRESET) return absl::AbortedError("the container process exited during setup");
  if (r < 0) return ErrnoError(-r, "send to", "sync socket");
  return absl::OkStatus();
}

absl::Status PreferChildError(int fd, const absl::Status& status) {
  if (status.ok()) return status;
  for (;;) {
    auto m = SyncReceive(fd, 0);
    if (!m.ok()) return status;
    if (m->msg.type == static_cast<uint32_t>(SyncType::kError))
      return absl::InternalError(DescribeError(m->msg));
  }
}

std::string DescribeError(const SyncMsg& msg) {
  if (msg.err == 0) return msg.text;
  return StrCat(msg.text, ": ", ErrnoName(msg.err), " (",
                strerrordesc_np(msg.err) ? strerrordesc_np(msg.err) : "", ")");
}

}  // namespace cricket::runtime
