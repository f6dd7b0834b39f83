#include "conmon/monitor.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/pidfd.h"

namespace cricket::conmon {
namespace {
constexpr size_t kReadSize = 16 * 1024;
constexpr char kComponent[] = "conmon";
constexpr uint32_t kIn = EPOLLIN;
constexpr uint32_t kOut = EPOLLOUT;
}  // namespace

Monitor::Monitor(MonitorSetup setup) : setup_(std::move(setup)), buf_(new char[kMaxMessage]) {}
Monitor::~Monitor() = default;

absl::Status Monitor::Add(Source* s, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = s;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s->fd, &ev) != 0)
    return ErrnoError("epoll add", StrCat("fd ", s->fd));
  s->events = events;
  return absl::OkStatus();
}

void Monitor::SetInterest(Source* s, uint32_t events) {
  if (s->fd < 0 || s->events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = s;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s->fd, &ev) == 0) s->events = events;
}

void Monitor::Remove(Source* s) {
  if (s->fd >= 0) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s->fd, nullptr);
}

absl::StatusOr<ExitRecord> Monitor::Run() {
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return ErrnoError("create", "epoll");
  struct Initial {
    Source* source;
    int fd;
    uint32_t events;
  };
  const Initial initial[] = {
      {&signal_, setup_.signal_fd.get(), EPOLLIN},
      {&stdout_, setup_.stdout_r.get(), EPOLLIN},
      {&stderr_, setup_.stderr_r.get(), EPOLLIN},
      {&console_, setup_.console.get(), EPOLLIN},
      {&stdin_, setup_.stdin_w.get(), 0},  // EPOLLOUT only while input is queued; HUP/ERR always
      {&attach_listen_, setup_.attach_listen.get(), EPOLLIN},
      {&control_listen_, setup_.control_listen.get(), EPOLLIN},
      {&oom_, setup_.oom ? setup_.oom->fd() : -1, EPOLLIN},
  };
  for (const Initial& i : initial) {
    i.source->fd = i.fd;
    if (i.fd >= 0) RETURN_IF_ERROR(Add(i.source, i.events));
  }
  ReapChildren();  // the init may have exited before it was re-parented here
  NoteColdPath();  // the first loop rounds run once-only code too
  epoll_event events[16];
  while (state_ != State::kDone) {
    int n = epoll_wait(epoll_.get(), events, 16, TimeoutMs());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("wait on", "epoll");
    for (int i = 0; i < n; ++i) {
      absl::Status s = Dispatch(static_cast<Source*>(events[i].data.ptr), events[i].events);
      if (!s.ok()) log::Warn(kComponent, "event handling failed", {{"id", setup_.config.id}, {"error", s}});
    }
    Sweep();
    OnTimeout();
    Sweep();
  }
  return record_;
}

absl::Status Monitor::Dispatch(Source* s, uint32_t ev) {
  // A source closed earlier in this batch has fd -1 (sessions and controls are only freed by Sweep).
  if (s->fd < 0) return absl::OkStatus();
  switch (s->kind) {
    case Kind::kSignal:
      OnSignal();
      break;
    case Kind::kStdout:
    case Kind::kStderr:
    case Kind::kConsole:
      ReadOutput(s, false);
      break;
    case Kind::kStdin:
      if (ev & (EPOLLERR | EPOLLHUP)) {
        CloseStdin();
      } else {
        FlushStdin();
      }
      break;
    case Kind::kAttachListen:
    case Kind::kControlListen:
      OnAccept(s);
      break;
    case Kind::kSession: {
      auto* session = static_cast<Session*>(s);
      if (ev & EPOLLOUT) FlushBacklog(session);
      if (session->dead) break;
      if (ev & EPOLLIN) {
        OnSessionInput(session);
      } else if (ev & (EPOLLERR | EPOLLHUP)) {
        EndSession(session);
      }
      break;
    }
    case Kind::kControl:
      OnControl(static_cast<Control*>(s));
      break;
    case Kind::kOom:
      OnOom();
      break;
  }
  return absl::OkStatus();
}

int Monitor::TimeoutMs() const {
  int64_t deadline = 0;
  if (state_ == State::kDraining || state_ == State::kClosing) {
    deadline = deadline_;
  } else if (output_paused_) {
    for (const auto& s : sessions_) {
      if (s->dead || s->over_since == 0) continue;
      int64_t d = s->over_since + setup_.slow_session_timeout_ns;
      if (deadline == 0 || d < deadline) deadline = d;
    }
  }
  if (trim_at_ != 0 && state_ == State::kRunning && (deadline == 0 || trim_at_ < deadline))
    deadline = trim_at_;
  if (deadline == 0) return -1;
  int64_t left = deadline - MonotonicNow();
  return left <= 0 ? 0 : static_cast<int>(left / 1'000'000 + 1);
}

void Monitor::NoteColdPath() {
  if (setup_.trim_pages) trim_at_ = MonotonicNow() + setup_.trim_idle_ns;
}

void Monitor::OnTimeout() {
  DropStuckSessions();
  if (trim_at_ != 0 && state_ == State::kRunning && MonotonicNow() >= trim_at_) {
    trim_at_ = 0;
    setup_.trim_pages();
  }
  if (state_ == State::kDraining && (!OutputOpen() || MonotonicNow() >= deadline_)) Finish();
  if (state_ != State::kClosing) return;
  bool expired = MonotonicNow() >= deadline_;
  bool pending = false;
  for (auto& s : sessions_) {
    if (s->dead) continue;
    if (expired || s->backlog.empty()) {
      EndSession(s.get());
    } else {
      pending = true;
    }
  }
  if (!pending) state_ = State::kDone;
}

void Monitor::OnSignal() {
  signalfd_siginfo info;
  while (read(signal_.fd, &info, sizeof(info)) == sizeof(info)) {
  }
  ReapChildren();
}

void Monitor::ReapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid != setup_.init_pid || exited_) continue;  // an orphan of the container
    exited_ = true;
    wait_status_ = status;
    exited_at_ = RealtimeNow();
    log::Info(kComponent, "container exited", {{"id", setup_.config.id}, {"status", status}});
    state_ = State::kDraining;
    deadline_ = MonotonicNow() + kDrainGraceNs;
    SetOutputPaused(false);
    // What the exited processes wrote is in the pipes now: take all of it before deciding anything.
    for (Source* s : {&stdout_, &stderr_, &console_}) {
      if (s->fd >= 0) ReadOutput(s, true);
    }
  }
}

bool Monitor::ReadOutput(Source* s, bool until_empty) {
  Stream stream = s->kind == Kind::kStderr ? Stream::kStderr : Stream::kStdout;
  for (;;) {
    ssize_t n = read(s->fd, buf_.get(), kReadSize);
    if (n > 0) {
      absl::Status w = setup_.log->Write(stream, std::string_view(buf_.get(), static_cast<size_t>(n)));
      if (!w.ok() && !log_failing_) log::Error(kComponent, "container log write failed", {{"error", w}});
      log_failing_ = !w.ok();
      Broadcast(stream, buf_.get(), static_cast<size_t>(n));
      if (!until_empty) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    // EOF; EIO is how a pty master reports that every slave descriptor is closed.
    if (n < 0 && errno != EIO) {
      log::Warn(kComponent, "reading container output failed", {{"error", ErrnoError("read", "output")}});
    }
    CloseOutput(s);
    return false;
  }
}

void Monitor::CloseOutput(Source* s) {
  if (s->fd < 0) return;
  Remove(s);
  Stream stream = s->kind == Kind::kStderr ? Stream::kStderr : Stream::kStdout;
  absl::Status f = setup_.log->Flush(stream);
  if (!f.ok()) log::Error(kComponent, "container log write failed", {{"error", f}});
  switch (s->kind) {
    case Kind::kStdout:
      setup_.stdout_r.reset();
      break;
    case Kind::kStderr:
      setup_.stderr_r.reset();
      break;
    default:
      setup_.console.reset();
      break;
  }
  s->fd = -1;
}

bool Monitor::OutputOpen() const { return stdout_.fd >= 0 || stderr_.fd >= 0 || console_.fd >= 0; }

void Monitor::Broadcast(Stream stream, const char* data, size_t n) {
  uint8_t type = stream == Stream::kStderr ? kStderr : kStdout;
  for (auto& s : sessions_) {
    if (!s->dead) Deliver(s.get(), type, data, n);
  }
}

void Monitor::Deliver(Session* s, uint8_t type, const char* data, size_t n) {
  if (s->backlog.empty()) {
    iovec iov[2] = {{&type, 1}, {const_cast<char*>(data), n}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t w;
    do {
      w = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w >= 0) return;
    if (errno != EAGAIN) {
      EndSession(s);
      return;
    }
  }
  std::string m(1, static_cast<char>(type));
  m.append(data, n);
  s->backlog_bytes += m.size();
  s->backlog.push_back(std::move(m));
  if (s->backlog_bytes > kMaxAttachBacklog) {
    if (state_ == State::kRunning) {
      if (s->over_since == 0) s->over_since = MonotonicNow();
      SetOutputPaused(true);
    } else if (s->backlog_bytes > 4 * kMaxAttachBacklog) {
      log::Warn(kComponent, "attach session does not take the final output; disconnecting it",
                {{"id", setup_.config.id}, {"queued", s->backlog_bytes}});
      EndSession(s);
      return;
    }
  }
  UpdateSessionInterest(s);
}

void Monitor::SetOutputPaused(bool paused) {
  if (output_paused_ == paused) return;
  output_paused_ = paused;
  // A paused output still reports HUP/ERR; reading it then is bounded by the pipe buffer.
  for (Source* o : {&stdout_, &stderr_, &console_}) SetInterest(o, paused ? 0u : kIn);
}

void Monitor::MaybeResumeOutput() {
  if (!output_paused_) return;
  for (auto& s : sessions_) {
    if (!s->dead && s->backlog_bytes > kMaxAttachBacklog / 2) return;
  }
  SetOutputPaused(false);
}

void Monitor::DropStuckSessions() {
  if (!output_paused_) return;
  int64_t now = MonotonicNow();
  for (auto& s : sessions_) {
    if (s->dead || s->over_since == 0 || now - s->over_since < setup_.slow_session_timeout_ns) continue;
    log::Warn(kComponent, "attach session does not keep up with the output; disconnecting it",
              {{"id", setup_.config.id}, {"queued", s->backlog_bytes}});
    EndSession(s.get());
  }
  MaybeResumeOutput();
}

void Monitor::FlushBacklog(Session* s) {
  while (!s->backlog.empty()) {
    const std::string& m = s->backlog.front();
    ssize_t w = send(s->fd, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w < 0) {
      EndSession(s);
      return;
    }
    s->backlog_bytes -= m.size();
    s->backlog.pop_front();
  }
  if (s->backlog_bytes <= kMaxAttachBacklog / 2) {
    s->over_since = 0;
    MaybeResumeOutput();
  }
  UpdateSessionInterest(s);
}

void Monitor::UpdateSessionInterest(Session* s) {
  if (s->dead) return;
  uint32_t ev = (stdin_paused_ ? 0u : kIn) | (s->backlog.empty() ? 0u : kOut);
  SetInterest(s, ev);
}

void Monitor::OnSessionInput(Session* s) {
  NoteColdPath();
  ssize_t n;
  do {
    n = recv(s->fd, buf_.get(), kMaxMessage, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    EndSession(s);
    return;
  }
  auto type = static_cast<uint8_t>(buf_[0]);
  std::string_view payload(buf_.get() + 1, static_cast<size_t>(n - 1));
  switch (type) {
    case kHello:
      if (!payload.empty() && (payload[0] & kHelloStdin)) s->stdin_attached = true;
      break;
    case kStdin:
      s->stdin_attached = true;
      if (stdin_.fd >= 0 && !stdin_closing_) QueueStdin(payload.data(), payload.size());
      break;
    case kStdinClose:
      s->stdin_attached = true;
      MaybeCloseStdinOnce(s);
      break;
    case kResize:
      if (auto size = DecodeWindowSize(payload)) {
        absl::Status r = HandleControl(EncodeResize(kControlResize, *size));
        if (!r.ok()) log::Debug(kComponent, "resize from attach ignored", {{"error", r}});
      }
      break;
    default:
      break;  // unknown types are ignored (protocol.h)
  }
}

void Monitor::EndSession(Session* s) {
  if (s->dead) return;
  s->dead = true;
  NoteColdPath();
  MaybeCloseStdinOnce(s);
  Remove(s);
  s->owned.reset();
  s->fd = -1;
  s->backlog.clear();
  s->backlog_bytes = 0;
  MaybeResumeOutput();
}

void Monitor::MaybeCloseStdinOnce(Session* s) {
  if (!setup_.config.stdin_once || !s->stdin_attached || stdin_once_done_) return;
  stdin_once_done_ = true;
  stdin_closing_ = true;
  FlushStdin();
}

void Monitor::QueueStdin(const char* data, size_t n) {
  stdin_buf_.append(data, n);
  FlushStdin();
  if (stdin_buf_.size() >= kMaxStdinBacklog && !stdin_paused_) {
    stdin_paused_ = true;
    for (auto& s : sessions_) UpdateSessionInterest(s.get());
  }
}

void Monitor::FlushStdin() {
  if (stdin_.fd < 0) return;
  while (!stdin_buf_.empty()) {
    ssize_t w = write(stdin_.fd, stdin_buf_.data(), stdin_buf_.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w <= 0) {
      CloseStdin();  // EPIPE: the container closed its stdin
      return;
    }
    stdin_buf_.erase(0, static_cast<size_t>(w));
  }
  SetInterest(&stdin_, stdin_buf_.empty() ? 0u : kOut);
  if (stdin_buf_.empty() && stdin_closing_) {
    CloseStdin();
    return;
  }
  if (stdin_paused_ && stdin_buf_.size() < kMaxStdinBacklog / 2) {
    stdin_paused_ = false;
    for (auto& s : sessions_) UpdateSessionInterest(s.get());
  }
}

void Monitor::CloseStdin() {
  if (stdin_.fd >= 0) {
    Remove(&stdin_);
    setup_.stdin_w.reset();
    stdin_.fd = -1;
    log::Debug(kComponent, "container stdin closed", {{"id", setup_.config.id}});
  }
  stdin_buf_.clear();
  stdin_buf_.shrink_to_fit();
  if (stdin_paused_) {
    stdin_paused_ = false;
    for (auto& s : sessions_) UpdateSessionInterest(s.get());
  }
}

void Monitor::OnAccept(Source* listen) {
  NoteColdPath();
  for (;;) {
    int fd = accept4(listen->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0 && errno == EINTR) continue;
    if (fd < 0) return;  // EAGAIN, or a client that gave up before we accepted
    if (listen->kind == Kind::kAttachListen) {
      if (sessions_.size() >= kMaxSessions) {
        log::Warn(kComponent, "too many attach sessions; refusing one", {{"id", setup_.config.id}});
        close(fd);
        continue;
      }
      auto s = std::make_unique<Session>();
      s->kind = Kind::kSession;
      s->owned.reset(fd);
      s->fd = fd;
      if (Add(s.get(), stdin_paused_ ? 0u : kIn).ok()) sessions_.push_back(std::move(s));
    } else {
      if (controls_.size() >= kMaxControlConns) {
        close(fd);
        continue;
      }
      auto c = std::make_unique<Control>();
      c->kind = Kind::kControl;
      c->owned.reset(fd);
      c->fd = fd;
      if (Add(c.get(), EPOLLIN).ok()) controls_.push_back(std::move(c));
    }
  }
}

void Monitor::OnControl(Control* c) {
  NoteColdPath();
  ssize_t n;
  do {
    n = recv(c->fd, buf_.get(), kMaxMessage, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n > 0) {
    absl::Status s = HandleControl(std::string_view(buf_.get(), static_cast<size_t>(n)));
    std::string reply = EncodeControlReply(s);
    if (send(c->fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return;
  }
  c->dead = true;
  Remove(c);
  c->owned.reset();
  c->fd = -1;
}

absl::Status Monitor::HandleControl(std::string_view request) {
  auto type = static_cast<uint8_t>(request[0]);
  std::string_view payload = request.substr(1);
  switch (type) {
    case kControlReopenLog:
      log::Info(kComponent, "reopening the container log", {{"id", setup_.config.id}});
      return setup_.log->Reopen();
    case kControlResize: {
      auto size = DecodeWindowSize(payload);
      if (!size) return absl::InvalidArgumentError("resize: the payload must be 4 bytes");
      if (!setup_.config.terminal) return absl::FailedPreconditionError("the container has no terminal");
      if (console_.fd < 0) return absl::FailedPreconditionError("the container's terminal is closed");
      winsize ws{};
      ws.ws_row = size->height;
      ws.ws_col = size->width;
      if (ioctl(console_.fd, TIOCSWINSZ, &ws) != 0) return ErrnoError("resize", "the container's terminal");
      return absl::OkStatus();
    }
    case kControlCloseStdin:
      if (!setup_.config.stdin)
        return absl::FailedPreconditionError("the container was not created with stdin");
      stdin_closing_ = true;
      FlushStdin();
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(StrCat("unknown control request ", static_cast<int>(type)));
  }
}

void Monitor::OnOom() {
  absl::StatusOr<uint64_t> kills = setup_.oom->Check();
  if (kills.ok() && *kills > 0) {
    oom_killed_ = true;
    log::Info(kComponent, "OOM kill in the container's cgroup",
              {{"id", setup_.config.id}, {"kills", *kills}});
  }
  if (!kills.ok() || setup_.oom->removed()) {
    if (!kills.ok()) log::Warn(kComponent, "OOM watcher failed", {{"error", kills.status()}});
    Remove(&oom_);
    oom_.fd = -1;
  }
}

void Monitor::Sweep() {
  sessions_.remove_if([](const std::unique_ptr<Session>& s) { return s->dead; });
  controls_.remove_if([](const std::unique_ptr<Control>& c) { return c->dead; });
}

void Monitor::Finish() {
  for (Source* s : {&stdout_, &stderr_, &console_}) CloseOutput(s);
  CloseStdin();
  if (!oom_killed_ && !setup_.memory_dir.empty()) {
    auto kills = cgroups::ReadOomKillCount(setup_.memory_dir, setup_.cgroup_version);
    if (kills.ok() && *kills > setup_.oom_kills_at_start) oom_killed_ = true;
  }
  ExitRecord& r = record_;
  r.id = setup_.config.id;
  r.pid = setup_.init_pid;
  r.exit_code = sys::ShellExitCode(wait_status_);
  r.signal = WIFSIGNALED(wait_status_) ? WTERMSIG(wait_status_) : 0;
  r.exited_at = exited_at_;
  r.oom_killed = oom_killed_;
  std::string path = JoinPath(setup_.config.exits_dir, setup_.config.id);
  absl::Status w = MkdirAll(setup_.config.exits_dir, 0700);
  if (w.ok()) w = WriteFileAtomic(path, FormatExitRecord(r), 0644);
  if (!w.ok()) log::Error(kComponent, "writing the exit file failed", {{"error", w}});
  for (Source* l : {&attach_listen_, &control_listen_}) {
    Remove(l);
    l->fd = -1;
  }
  setup_.attach_listen.reset();
  setup_.control_listen.reset();
  unlink(setup_.config.attach_socket.c_str());
  unlink(setup_.config.control_socket.c_str());
  for (auto& c : controls_) {
    Remove(c.get());
    c->dead = true;
    c->owned.reset();
    c->fd = -1;
  }
  if (oom_.fd >= 0) {
    Remove(&oom_);
    oom_.fd = -1;
  }
  state_ = State::kClosing;
  deadline_ = MonotonicNow() + kCloseGraceNs;
}

}  // namespace cricket::conmon
