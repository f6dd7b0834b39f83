// What cricketd (through cricket_conmon_client) and cricket-conmon say to each other: the command line,
// the start-up report, the control and attach socket messages and the exit file. Both sides include
// this header; nothing here touches the network or a container.
//
// Command line. cricket-conmon takes only "--name=value" and "--flag" arguments (MonitorArgs() builds
// them, ParseMonitorArgs() reads them); see MonitorConfig for their meaning.
//
// Start-up report. conmon writes one report to the start-up fd and closes it:
//   "ok <container pid> <container start time>\n"       the container is created (held before execve)
//   "error <absl::StatusCode number> <message>"          nothing was created; conmon exits
// EOF without a report means conmon died (its own diagnostics log says why).
//
// Sockets. Both sockets are AF_UNIX SOCK_SEQPACKET, so every message keeps its boundaries. A message is
// one type byte followed by its payload; a payload is at most kMaxPayload bytes. Unknown types are
// ignored by both sides (room for later additions).
//
// Attach socket (the streaming server's Attach, interfaces.md §2.4). Any number of sessions at once;
// each sees the container's output from the moment it connected (no replay; the log file has the
// history). Types and their payloads (numbers as in the Kubernetes WebSocket channels 0-4):
//   client → conmon  kStdin        bytes for the container's stdin (dropped unless created with stdin)
//                    kStdinClose   the client half-closed its stdin
//                    kResize       width u16 LE, height u16 LE (cells; TIOCSWINSZ on the pty)
//                    kHello        flags u8 (bit 0: the session attaches stdin); optional, first
//   conmon → client  kStdout, kStderr  container output (with a tty everything is kStdout)
// conmon closes a session once the container has exited and its output has been forwarded: the
// client sees EOF. With stdin_once the container's stdin is closed when the first session that
// attached stdin (kHello with the stdin flag, or any kStdin/kStdinClose) ends or half-closes stdin;
// without it, stdin stays open across sessions (Kubernetes Container.stdinOnce). When a session falls
// more than kMaxAttachBacklog bytes behind, conmon stops reading the container's output until it
// catches up; a session stuck that way for 5 s is disconnected (monitor.h): a slow attacher delays
// the container and the log for a bounded time only, and a session that keeps up loses nothing.
//
// Control socket (cricketd → conmon): one request per message, answered by one reply
//   kControlReopenLog             close and reopen the log path (kubelet rotation: ReopenContainerLog)
//   kControlResize                width u16 LE, height u16 LE
//   kControlCloseStdin            close the container's stdin
//   reply: absl::StatusCode u8, then the error message (empty when OK)
//
// Exit file. When the container's init exits, conmon drains its output to the log, then writes
// <exits_dir>/<id> atomically (temporary file + rename, so a reader never sees half a file):
//   {"id":"<id>","pid":<init pid>,"exit_code":<0-255; 128+signal when killed>,"signal":<0 or signal>,
//    "exited_at":<unix ns>,"oom_killed":<bool>}
// cricketd learns of it by inotify (ExitWatcher in client.h) without polling.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/common/unique_fd.h"

namespace cricket::conmon {

// Everything cricket-conmon is told at start.
struct MonitorConfig {
  std::string id;               // --id: the container id (lib/runtime's rules)
  std::string runtime_root;     // --runtime-root: lib/runtime's state root for the handler
  bool systemd_cgroup = false;  // --systemd-cgroup: linux.cgroupsPath is "slice:prefix:name"
  std::string bundle;           // --bundle: holds config.json
  bool no_pivot = false;        // --no-pivot
  std::string log_path;         // --log-path: the CRI log file (parent directories are created)
  int64_t log_size_max = -1;    // --log-size-max: bytes; <= 0 unlimited (crio.runtime log_size_max)
  std::string exits_dir;        // --exits-dir: where the exit file <id> is written
  std::string attach_socket;    // --attach-socket
  std::string control_socket;   // --control-socket
  bool terminal = false;        // --terminal: process.terminal (must match config.json)
  bool stdin = false;           // --stdin: keep the container's stdin open for attach
  bool stdin_once = false;      // --stdin-once
  int startup_fd = -1;          // --startup-fd: where the start-up report goes (-1: stderr only)
  // --cgroup-procs (repeatable): cgroup.procs files conmon writes its own pid to before anything else
  // (crio.runtime conmon_cgroup).
  std::vector<std::string> cgroup_procs;
  std::string log_level = "info";  // --log-level: conmon's own diagnostics on stderr
  // --cgroup-layout: the host's cgroup hierarchies as cgroups::Layout::Serialize() gives them (cricketd
  // detected them once); empty: detected from mountinfo.
  std::string cgroup_layout;
};

std::vector<std::string> MonitorArgs(const MonitorConfig& config);
// InvalidArgument naming the argument that is unknown, malformed, missing or inconsistent.
absl::StatusOr<MonitorConfig> ParseMonitorArgs(const std::vector<std::string>& args);

// ---------------------------------------------------------------------------------------------------
// Start-up report

struct StartupResult {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22 (sys::ProcessIdentity)
};
std::string FormatStartupOk(const StartupResult& result);
std::string FormatStartupError(const absl::Status& status);
// The container's identity, or the error conmon reported. An empty report is Internal ("exited before
// reporting").
absl::StatusOr<StartupResult> ParseStartupReport(std::string_view report);

// ---------------------------------------------------------------------------------------------------
// Socket messages

inline constexpr size_t kMaxPayload = 32 * 1024;
inline constexpr size_t kMaxMessage = kMaxPayload + 1;
// Output bytes queued for one attach session before conmon stops reading the container's output.
inline constexpr size_t kMaxAttachBacklog = 128 * 1024;

enum AttachType : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kResize = 4,
  kStdinClose = 5,
  kHello = 6,
};
inline constexpr uint8_t kHelloStdin = 1;

enum ControlType : uint8_t {
  kControlReopenLog = 1,
  kControlResize = 2,
  kControlCloseStdin = 3,
};

struct WindowSize {
  uint16_t width = 0;
  uint16_t height = 0;
  bool operator==(const WindowSize&) const = default;
};

// type byte + payload. The payload is cut to kMaxPayload by the caller.
std::string EncodeMessage(uint8_t type, std::string_view payload = {});
std::string EncodeResize(uint8_t type, WindowSize size);
// The size carried by a kResize / kControlResize payload; nullopt when it is not 4 bytes.
std::optional<WindowSize> DecodeWindowSize(std::string_view payload);

std::string EncodeControlReply(const absl::Status& status);
absl::Status DecodeControlReply(std::string_view reply);

// ---------------------------------------------------------------------------------------------------
// Exit file

struct ExitRecord {
  std::string id;
  pid_t pid = 0;
  int exit_code = 0;      // 0-255; 128 + signal for a signal death
  int signal = 0;         // the signal that killed the init, else 0
  int64_t exited_at = 0;  // unix ns
  bool oom_killed = false;
};
std::string FormatExitRecord(const ExitRecord& record);
// `what` names the source in errors.
absl::StatusOr<ExitRecord> ParseExitRecord(std::string_view text, std::string_view what);

// ---------------------------------------------------------------------------------------------------
// Unix sockets at paths of any length: a path longer than sun_path is reached through
// /proc/self/fd/<directory fd>/<name>.

// Removes a stale socket at `path`, binds and listens (CLOEXEC, NONBLOCK), then chmods it to `mode`.
absl::StatusOr<UniqueFd> ListenUnixSocket(const std::string& path, int type, mode_t mode);
// A blocking CLOEXEC socket connected to `path`.
absl::StatusOr<UniqueFd> ConnectUnixSocket(const std::string& path, int type);

}  // namespace cricket::conmon
