// Parent side of cloning the container init and exec'd processes (the child side is init_child.h).
#pragma once

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"
#include "lib/runtime/init_child.h"
#include "lib/runtime/plan.h"
#include "lib/runtime/sync.h"
#include "lib/sys/pidfd.h"

namespace cricket::runtime {

// A cloned process that is still being set up: a child of the caller, waiting for kContinue.
struct SetupChild {
  sys::PidFd pidfd;
  UniqueFd sync;  // the parent's end of the sync socket
};

// Clones the init of `plan` (through the intermediate process for two-stage plans). Returns once its
// pid is known.
absl::StatusOr<SetupChild> SpawnInit(const InitPlan& plan, int start_listen_fd, int timeout_ms);

// Clones the exec helper, which joins the namespaces of plan.init_pidfd and clones the process.
absl::StatusOr<SetupChild> SpawnExec(const ExecPlan& plan, int timeout_ms);

// SIGKILL and reap (cleanup of a failed setup).
void KillAndReap(const sys::PidFd& pidfd);

}  // namespace cricket::runtime
