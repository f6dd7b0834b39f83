// cricketd's side of cricket-conmon (library cricket_conmon_client): start a monitor for a container,
// talk to its control socket, check that it lives. Safe to call from several threads at once (no
// shared state; each call has its own descriptors).
//
//   conmon::MonitorOptions o;
//   o.conmon_path = "/usr/libexec/cricket/cricket-conmon";
//   o.config = {.id = id, .runtime_root = "/run/cricket/runtime/default", .bundle = bundle,
//               .log_path = log_path, .log_size_max = -1, .exits_dir = "/run/cricket/exits",
//               .attach_socket = dir + "/attach", .control_socket = dir + "/ctl",
//               .terminal = tty, .stdin = stdin, .stdin_once = stdin_once};
//   ASSIGN_OR_RETURN(conmon::MonitorInfo m, conmon::SpawnMonitor(o));   // the container is "created"
//   ... store m.monitor and m.container with the container record ...
//   RETURN_IF_ERROR(runtime.Start(id));                                  // lib/runtime releases the init
//   ... exits arrive through ExitWatcher (exit_watcher.h); attach through attach_client.h ...
//   conmon::ReopenLog(ctl) on ReopenContainerLog; runtime.Delete(id) on RemoveContainer.
//
// When SpawnMonitor fails, the container may still exist in a corner case (conmon killed or timed out
// in the middle of the create): the caller should run Runtime::Delete(id, /*force=*/true) and ignore
// NotFound before reporting the error.
//
// A monitor that dies (kill -9) leaves its container running but writes no exit file; see main.cc.
// cricketd detects it with IsMonitorAlive()/OpenMonitorPidFd() and falls back to watching the init
// through sys::PidFd::OpenIdentity(container).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conmon/protocol.h"
#include "lib/sys/pidfd.h"

namespace cricket::conmon {

struct MonitorOptions {
  std::string conmon_path;  // absolute path of the cricket-conmon executable
  // What the monitor does; startup_fd is chosen by SpawnMonitor.
  MonitorConfig config;
  std::vector<std::string> env;  // the monitor's whole environment (crio.runtime conmon_env)
  // Where conmon's own diagnostics go (appended; parent directories are created); empty: nowhere.
  std::string diagnostics_log;
  // How long to wait for the start-up report; then the monitor is killed. Must exceed the runtime's
  // setup timeout (60 s) plus hook time.
  absl::Duration timeout = absl::Minutes(3);
};

struct MonitorInfo {
  sys::ProcessIdentity monitor;    // cricket-conmon
  sys::ProcessIdentity container;  // the container's init (host pid namespace), held before execve
};

// Starts cricket-conmon detached (new session, re-parented away from the caller) and waits until it
// has created the container. Errors: conmon's own (the runtime's create error, with its code), or
// Internal / DeadlineExceeded when conmon died or did not answer.
absl::StatusOr<MonitorInfo> SpawnMonitor(const MonitorOptions& options);

// Control requests (protocol.h). Unavailable when the monitor is gone (socket missing or refused).
absl::Status ReopenLog(const std::string& control_socket);
absl::Status ResizeTerminal(const std::string& control_socket, WindowSize size);
absl::Status CloseStdin(const std::string& control_socket);

// True while the process recorded as `monitor` runs (a recycled pid is not mistaken for it).
bool IsMonitorAlive(const sys::ProcessIdentity& monitor);
// A pidfd of the monitor, readable (poll/epoll) once it exits. NotFound when it is gone.
absl::StatusOr<sys::PidFd> OpenMonitorPidFd(const sys::ProcessIdentity& monitor);

}  // namespace cricket::conmon
