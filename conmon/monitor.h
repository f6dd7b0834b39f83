// cricket-conmon's steady state: one epoll loop over the container's output (pipes or the pty
// master), its stdin, the attach and control sockets, the OOM watcher and a signalfd for SIGCHLD.
//
// Output goes to the CRI log first (blocking writes to a local file: no line is ever lost), then to
// every attach session (non-blocking sends, with a queue per session). While a session has more than
// kMaxAttachBacklog bytes queued, the container's output is not read (the pipe fills and the
// container's writes wait, as they would for a slow disk): a briefly slow attacher loses nothing. A
// session that stays over the limit for slow_session_timeout is disconnected and reading resumes, so
// a stuck attacher delays the container and its log by at most that long. After the init exited,
// output is never paused (what is left is bounded by the pipe buffers); a session then queueing more
// than 4 x kMaxAttachBacklog is dropped.
// stdin from the sessions is queued (at most kMaxStdinBacklog bytes; beyond that the sessions are not
// read until the container takes its input, so a container that never reads stdin only stalls its
// attachers' input).
//
// When the init exits (reaped here: conmon is its parent as the child subreaper), the output still in
// the pipes is read to EOF (waiting at most kDrainGrace for holders outside the container's pid
// namespace to let go), unterminated lines are flushed as P records, the OOM counter is checked once
// more (the kill notification may race the exit), the exit file is written, the sockets are removed
// and the sessions get up to kCloseGrace to take their remaining output before Run() returns.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "conmon/log_writer.h"
#include "conmon/protocol.h"
#include "lib/common/unique_fd.h"
#include "lib/runtime/cgroups/oom.h"

namespace cricket::conmon {

inline constexpr size_t kMaxStdinBacklog = 64 * 1024;
inline constexpr int64_t kDrainGraceNs = 500'000'000;
inline constexpr int64_t kCloseGraceNs = 2'000'000'000;
inline constexpr int64_t kSlowSessionTimeoutNs = 5'000'000'000;
inline constexpr int64_t kTrimIdleNs = 5'000'000'000;
inline constexpr size_t kMaxSessions = 64;
inline constexpr size_t kMaxControlConns = 16;

// What main() prepared: every descriptor is non-blocking and close-on-exec.
struct MonitorSetup {
  MonitorConfig config;
  std::optional<LogWriter> log;
  UniqueFd attach_listen;
  UniqueFd control_listen;
  UniqueFd signal_fd;  // signalfd for SIGCHLD (blocked)
  UniqueFd stdout_r;   // pipes without a terminal
  UniqueFd stderr_r;
  UniqueFd console;  // pty master with a terminal
  UniqueFd stdin_w;  // the container's stdin: a pipe, or a dup of the pty master; -1 without --stdin
  std::optional<cgroups::OomWatcher> oom;
  std::string memory_dir;  // for the final OOM count; "" when unknown
  int cgroup_version = 0;
  uint64_t oom_kills_at_start = 0;
  pid_t init_pid = 0;
  uint64_t init_start_time = 0;
  int64_t slow_session_timeout_ns = kSlowSessionTimeoutNs;
  // Called once the loop has been free of attach/control activity for trim_idle_ns after some (and
  // once after start): drops the pages those rarer paths faulted in (DropStartupPages in
  // cricket-conmon; tests leave it empty). Container output does not count as activity: its path
  // stays resident while the container talks.
  std::function<void()> trim_pages;
  int64_t trim_idle_ns = kTrimIdleNs;
};

class Monitor {
 public:
  explicit Monitor(MonitorSetup setup);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Runs until the container has exited and everything is written; returns what went into the exit
  // file (an error only when the loop itself broke, e.g. epoll failed).
  absl::StatusOr<ExitRecord> Run();

 private:
  enum class Kind {
    kSignal,
    kStdout,
    kStderr,
    kConsole,
    kStdin,
    kAttachListen,
    kControlListen,
    kSession,
    kControl,
    kOom
  };
  struct Source {
    Kind kind;
    int fd = -1;
    uint32_t events = 0;  // current epoll interest
  };
  struct Session : Source {
    UniqueFd owned;
    std::deque<std::string> backlog;
    size_t backlog_bytes = 0;
    int64_t over_since = 0;  // monotonic ns when the backlog went over the limit; 0 when under
    bool stdin_attached = false;
    bool dead = false;
  };
  struct Control : Source {
    UniqueFd owned;
    bool dead = false;
  };
  enum class State { kRunning, kDraining, kClosing, kDone };

  absl::Status Add(Source* s, uint32_t events);
  void SetInterest(Source* s, uint32_t events);
  void Remove(Source* s);
  absl::Status Dispatch(Source* s, uint32_t events);
  int TimeoutMs() const;
  void OnTimeout();

  void OnSignal();
  void ReapChildren();
  // Reads what is available from an output source; false once it hit EOF (and was closed).
  bool ReadOutput(Source* s, bool until_empty);
  void CloseOutput(Source* s);
  void Broadcast(Stream stream, const char* data, size_t n);
  void Deliver(Session* s, uint8_t type, const char* data, size_t n);
  void FlushBacklog(Session* s);
  void SetOutputPaused(bool paused);
  // Resumes output once no session is over the limit.
  void MaybeResumeOutput();
  // Disconnects sessions over the limit for longer than slow_session_timeout.
  void DropStuckSessions();
  void OnSessionInput(Session* s);
  void EndSession(Session* s);
  void UpdateSessionInterest(Session* s);
  void QueueStdin(const char* data, size_t n);
  void FlushStdin();
  void CloseStdin();
  void MaybeCloseStdinOnce(Session* s);
  void OnAccept(Source* listen);
  void OnControl(Control* c);
  absl::Status HandleControl(std::string_view request);
  void OnOom();
  void Sweep();
  // Schedules trim_pages after an attach or control event (the timer restarts with each one).
  void NoteColdPath();
  bool OutputOpen() const;
  void Finish();

  MonitorSetup setup_;
  UniqueFd epoll_;
  State state_ = State::kRunning;
  Source signal_{Kind::kSignal}, stdout_{Kind::kStdout}, stderr_{Kind::kStderr}, console_{Kind::kConsole},
      stdin_{Kind::kStdin}, attach_listen_{Kind::kAttachListen}, control_listen_{Kind::kControlListen},
      oom_{Kind::kOom};
  std::list<std::unique_ptr<Session>> sessions_;
  std::list<std::unique_ptr<Control>> controls_;
  std::string stdin_buf_;
  bool output_paused_ = false;    // a session is over kMaxAttachBacklog
  bool stdin_paused_ = false;     // sessions are not read while stdin_buf_ is full
  bool stdin_closing_ = false;    // close once stdin_buf_ is written
  bool stdin_once_done_ = false;  // the first stdin session ended
  bool log_failing_ = false;
  bool exited_ = false;
  int wait_status_ = 0;
  int64_t exited_at_ = 0;
  int64_t deadline_ = 0;  // monotonic ns; the end of the drain or close grace period
  int64_t trim_at_ = 0;   // monotonic ns; 0 when no trim is scheduled
  bool oom_killed_ = false;
  ExitRecord record_;
  std::unique_ptr<char[]> buf_;
};

}  // namespace cricket::conmon
