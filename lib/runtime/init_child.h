// The child side of container creation and exec: walks the plans of plan.h with system calls only.
//
// These functions run in a clone3 child (possibly of a multithreaded process) and are
// async-signal-safe: no allocation, no locks, no C++ exceptions, no glibc set*id wrappers. Every failure
// is reported to the parent as a kError message on `sync_fd` naming the step and the object, and the
// function returns a non-zero exit code for the caller to _exit with. With the real Sys they return only
// on failure (success ends in execve); with FakeSys the whole sequence can be recorded in-process.
#pragma once

#include <cstdint>

#include "lib/runtime/plan.h"
#include "lib/sys/sys.h"

namespace cricket::runtime {

// Exit codes of a child that failed before execve.
inline constexpr int kChildSetupFailed = 125;
inline constexpr int kChildExecFailed = 127;

// The container init, after clone3 has put it into its new namespaces:
//   wait for kContinue (uid/gid maps written) → rootfs steps → hook point → pivot_root → post-pivot
//   steps (console, sysctls, read-only and masked paths, read-only root, hostname) → process setup →
//   kReady → wait for a connection on `start_listen_fd` → execve. After start, errors go to the start
//   connection instead of the (closed) sync socket.
// The parent joins the init to its cgroup while the rootfs is being set up (a cgroup v1 attach costs
// milliseconds) and then sends kJoined; the init waits for it where it must be in its cgroup: before
// unsharing a cgroup namespace (which is rooted at the current cgroup), else before the hook point
// (hooks see the container in its cgroup), else before the process setup.
int RunInit(const InitPlan& plan, sys::Sys& sys, int sync_fd, int start_listen_fd);

// The intermediate process of a two-stage create: joins plan.ns.joins (and unshares the time
// namespace to write its offsets), clones the init with CLONE_PARENT | plan.ns.clone_flags, sends the
// init's pidfd as kStage2 and returns 0. The init branch runs RunInit and never returns.
int RunIntermediate(const InitPlan& plan, sys::Sys& sys, int sync_fd, int start_listen_fd);

// What an exec'd process (or a hook run inside the container) does.
struct ExecPlan {
  int init_pidfd = -1;          // the container init, whose namespaces are joined
  uint64_t ns_flags = 0;        // CLONE_NEW* of the init's namespaces that differ from the caller's
  bool set_credentials = true;  // false for hooks: keep the runtime's uid, gid and capabilities
  ProcessPlan process;
};

// The first stage of exec: setns(init_pidfd, ns_flags), then clones the second stage with CLONE_PARENT
// (so that it is in the container's pid namespace and a child of the caller), sends its pidfd as
// kStage2 and returns 0. The second stage waits for kContinue (cgroup joined), sets up the process and
// execs; it never returns.
int RunExecStage1(const ExecPlan& plan, sys::Sys& sys, int sync_fd);

// The second stage alone (also used directly in tests).
int RunExecProcess(const ExecPlan& plan, sys::Sys& sys, int sync_fd);

// Pieces, exposed for unit tests with FakeSys.
// Runs the rootfs steps up to and including pivot_root (and the hook point when plan.hook_point, before
// which it waits for kJoined when `wait_joined`).
int SetupRootfs(const InitPlan& plan, sys::Sys& sys, int sync_fd, bool wait_joined = false);
// The detached tree of a kBind step with its attributes, idmap and propagation applied: a tree fd, or
// -errno with *what and *object naming the failed step. Child-safe; the runtime also calls it before
// cloning to make the trees of a container in a user namespace (MountStep::tree_fd).
int MakeBindTree(const MountStep& s, const RootfsPlan& plan, sys::Sys& sys, const char** what,
                 const char** object);
// Runs the post-pivot steps; `console_slave` receives the pty slave when plan.rootfs.console.
int FinishRootfs(const InitPlan& plan, sys::Sys& sys, int sync_fd, int* console_slave);
// stdio, terminal, fds, LSM labels, umask, seccomp (without no_new_privileges), credentials,
// capabilities, no_new_privileges, cwd; returns the index of the executable candidate in *exec_index.
// `sync_fd` and `keep_fds` are left open (they may be renumbered: the new numbers are written back to
// *sync_fd and keep_fds); `console_slave` >= 0 becomes the controlling terminal.
int SetupProcess(const ProcessPlan& plan, sys::Sys& sys, int* sync_fd, bool set_credentials,
                 int console_slave, int* keep_fds, int n_keep, int* exec_index);
// Loads the seccomp filter when it is deferred to just before execve (no_new_privileges), then execs
// the chosen candidate. Returns -errno when execve fails.
int ExecProcess(const ProcessPlan& plan, sys::Sys& sys, int exec_index);

}  // namespace cricket::runtime
