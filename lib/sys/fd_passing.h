// One message with at most one file descriptor beside it (SCM_RIGHTS) over a unix socket: the runtime's
// parent/child sync channel, the console socket, cricket-conmon's create helper. Both calls are
// async-signal-safe (no allocation), so a cloned child may use them.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace cricket::sys {

// Sends `len` bytes of `data` with `fd` attached (none when fd < 0); never raises SIGPIPE, retries
// EINTR. Returns 0 or -errno.
int SendWithFd(int sock, const void* data, size_t len, int fd);

// Receives one message into `buf` and the first descriptor sent with it into *fd (-1 when none; it is
// close-on-exec; any further descriptors are closed). Retries EINTR. Returns the byte count (0 at end of
// stream) or -errno.
ssize_t RecvWithFd(int sock, void* buf, size_t len, int* fd);

}  // namespace cricket::sys
