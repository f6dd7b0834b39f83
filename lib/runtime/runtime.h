// cricket's embedded OCI runtime: the container lifecycle of runtime-spec runtime.md, in-process.
//
// A Runtime owns nothing but a state directory root and detected host facts: no global state, no
// threads, no exit(). Every container lives in <root>/<id>/ (state.json, config.json, the start
// socket), so the cricket-runtime CLI, cricket-conmon and cricketd can each open the same root and see
// the same containers, also after any of them restarted.
//
// Process model. Create clones the container init with clone3 (new namespaces, CLONE_PIDFD), as a child
// of the caller; the init sets itself up from a precomputed plan (system calls only, see plan.h), then
// blocks before execve until Start. Exec clones a helper that joins the init's namespaces and clones
// the exec'd process as the caller's child. Neither runs C++ code after clone that could need a lock,
// so both are safe to call from a multithreaded process (cricketd calls Exec for ExecSync). The caller
// is responsible for reaping what it gets back (Create's init, Exec's process): it is the child
// subreaper's job (cricket-conmon); the runtime reaps the helpers it spawns itself.
//
// Identity. A container's init is recorded as {pid, start time}; every signal goes through a pidfd
// opened and verified against that identity, so a recycled pid is never signalled.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"
#include "lib/oci/spec.h"
#include "lib/oci/state.h"
#include "lib/runtime/cgroups/layout.h"
#include "lib/runtime/cgroups/stats.h"
#include "lib/sys/pidfd.h"

namespace cricket::runtime {

struct RuntimeOptions {
  // State directories live in <root>/<id>. cricket uses <runroot>/runtime/<handler>.
  std::string root = "/run/cricket/runtime/default";
  // linux.cgroupsPath interpretation: false = cgroupfs paths, true = systemd "slice:prefix:name".
  bool systemd_cgroup = false;
  // The cgroup layout; detected from /proc/self/mountinfo when absent.
  std::optional<cgroups::Layout> cgroup_layout;
  // How long Create waits for the init to set itself up, and the default hook timeout.
  int setup_timeout_ms = 60'000;
};

struct CreateOptions {
  // The bundle directory. config.json is read from it unless `spec` is given; relative paths in the
  // spec (root.path, bind sources) are relative to it.
  std::string bundle;
  std::optional<oci::Spec> spec;
  // The container process's stdin, stdout, stderr: fds of the caller; -1 leaves the caller's own
  // 0/1/2 to be inherited. Ignored with process.terminal.
  int stdio[3] = {-1, -1, -1};
  // Fds of the caller that become 3, 4, ... in the container (runc --preserve-fds, LISTEN_FDS).
  std::vector<int> extra_fds;
  // With process.terminal: where to send the pty master (runc's console socket protocol). Empty:
  // the master is returned in Container::console instead.
  std::string console_socket;
  // Written with the init's pid (host pid namespace) once created.
  std::string pid_file;
  // MS_MOVE + chroot instead of pivot_root (rootfs on ramfs/initramfs).
  bool no_pivot = false;
};

// A created container, as returned to the in-process caller.
struct Container {
  std::string id;
  pid_t pid = 0;
  // A pidfd of the init (a child of the caller: waitid(P_PIDFD) reaps it).
  sys::PidFd pidfd;
  // The pty master with process.terminal and no console socket.
  UniqueFd console;
};

struct ExecOptions {
  // The complete process to run (args, env, cwd, user, capabilities, ...).
  oci::Process process;
  int stdio[3] = {-1, -1, -1};
  std::vector<int> extra_fds;
  std::string console_socket;  // as for CreateOptions (with process.terminal)
  std::string pid_file;
};

struct ExecResult {
  pid_t pid = 0;
  sys::PidFd pidfd;  // a child of the caller, which must reap it
  UniqueFd console;  // pty master with process.terminal and no console socket
};

class Runtime {
 public:
  static absl::StatusOr<Runtime> Open(RuntimeOptions options);

  const RuntimeOptions& options() const { return options_; }

  // runtime.md "create": everything but the user process: namespaces, cgroup and resources, rootfs,
  // devices, pivot_root, masked/read-only paths, hostname, sysctls, credentials, capabilities, seccomp,
  // then the prestart, createRuntime and createContainer hooks. The init is held before execve. On
  // failure nothing is left: no process, mount (outside the container's namespace), cgroup or state.
  absl::StatusOr<Container> Create(const std::string& id, const CreateOptions& options);

  // runtime.md "start": startContainer hooks, execve of process.args, poststart hooks. Returns once
  // the user program has been exec'd (or with the exec error, e.g. a permission problem).
  absl::Status Start(const std::string& id);

  // Sends `signal` to the init, or with `all` to every process of the container. FailedPrecondition when
  // the container is not created or running.
  absl::Status Kill(const std::string& id, int signal, bool all = false);

  // runtime.md "delete": only when stopped unless `force` (then every process is killed first). Runs
  // the poststop hooks and removes the cgroup and the state. NotFound when there is no such container.
  absl::Status Delete(const std::string& id, bool force = false);

  absl::StatusOr<oci::State> State(const std::string& id) const;
  // States of every container of this root, sorted by id.
  absl::StatusOr<std::vector<oci::State>> List() const;
  // The spec the container was created with.
  absl::StatusOr<oci::Spec> Spec(const std::string& id) const;

  // Runs another process in a created or running container.
  absl::StatusOr<ExecResult> Exec(const std::string& id, const ExecOptions& options);

  // The freezer (the cgroup manager). FailedPrecondition unless running (Pause) / paused (Resume).
  absl::Status Pause(const std::string& id);
  absl::Status Resume(const std::string& id);
  // Applies new resource limits to a live container (and records them in its spec).
  absl::Status Update(const std::string& id, const oci::LinuxResources& resources);
  absl::StatusOr<cgroups::Stats> Stats(const std::string& id, const cgroups::StatsParts& parts = {}) const;
  // Pids (host pid namespace) of every process of the container.
  absl::StatusOr<std::vector<pid_t>> Pids(const std::string& id) const;

 private:
  explicit Runtime(RuntimeOptions options) : options_(std::move(options)) {}
  RuntimeOptions options_;
};

}  // namespace cricket::runtime
