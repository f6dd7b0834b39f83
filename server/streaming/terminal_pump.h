// The tty side of an exec session: copies between a pty master and the session's pipes (StreamIo),
// applies terminal resizes, turns the client's end of stdin into ^D, and kills the process group when
// the session is cancelled. Shared by every StreamingRuntime that runs a process on a terminal.
#pragma once

#include <sys/types.h>

#include "server/streaming/runtime.h"

namespace cricket::streaming {

// Pumps until `pid` (a child of the caller that leads its own process group, having called setsid;
// `pidfd` is its pidfd) has exited and the terminal has no more output, or until the session is
// cancelled, which kills its process group. The child is reaped (through its pidfd) only on the way out:
// until then its pid, and with it the id of its process group, cannot be taken by another process, so
// the group kill can only reach the session's own processes. Returns the child's wait status.
int PumpTerminal(int master, pid_t pid, int pidfd, StreamIo& io);

}  // namespace cricket::streaming
