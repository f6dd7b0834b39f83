// The monitor loop with a forked child standing in for the container (no root needed): output to the
// log and to attach sessions, stdin, stdin_once, slow attachers, control requests, exit files.
#include "conmon/monitor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "conmon/attach_client.h"
#include "conmon/client.h"
#include "conmon/exit_watcher.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::conmon {
namespace {

// Writes all of `s` to `fd` (the child side; blocking).
void Put(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one line from fd 0; false at EOF.
bool GetLine(std::string* line) {
  line->clear();
  char c;
  for (;;) {
    ssize_t n = read(0, &c, 1);
    if (n <= 0) return !line->empty();
    if (c == '\n') return true;
    line->push_back(c);
  }
}

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-conmon-mon-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old_mask_), 0);
    config_.id = "ctr1";
    config_.runtime_root = dir_ + "/runtime";
    config_.bundle = dir_ + "/bundle";
    config_.log_path = dir_ + "/logs/ctr1/0.log";
    config_.exits_dir = dir_ + "/exits";
    config_.attach_socket = dir_ + "/attach";
    config_.control_socket = dir_ + "/ctl";
  }
  void TearDown() override {
    if (thread_.joinable()) {
      if (child_ > 0) kill(child_, SIGKILL);  // a failed test must not hang on a blocked child
      thread_.join();
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    ASSERT_TRUE(RemoveAll(dir_).ok());
  }

  // Forks the stand-in container running `body` with pipes (or the pty slave) as 0/1/2, and starts
  // the monitor loop on another thread.
  void Start(std::function<int()> body) {
    MonitorSetup s;
    s.config = config_;
    auto log = LogWriter::Open(config_.log_path, config_.log_size_max);
    ASSERT_TRUE(log.ok()) << log.status();
    s.log.emplace(std::move(*log));
    auto attach = ListenUnixSocket(config_.attach_socket, SOCK_SEQPACKET, 0600);
    auto control = ListenUnixSocket(config_.control_socket, SOCK_SEQPACKET, 0600);
    ASSERT_TRUE(attach.ok() && control.ok());
    s.attach_listen = std::move(*attach);
    s.control_listen = std::move(*control);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    s.signal_fd.reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    ASSERT_TRUE(s.signal_fd.valid());
    int theirs[3] = {-1, -1, -1};
    if (config_.terminal) {
      int master, slave;
      ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
      s.console.reset(master);
      if (config_.stdin) s.stdin_w.reset(fcntl(master, F_DUPFD_CLOEXEC, 3));
      theirs[0] = slave;
      theirs[1] = dup(slave);
      theirs[2] = dup(slave);
      slave_ = dup(slave);
    } else {
      int in[2], out[2], err[2];
      ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
      ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
      ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
      theirs[0] = in[0];
      theirs[1] = out[1];
      theirs[2] = err[1];
      if (config_.stdin) {
        s.stdin_w.reset(in[1]);
      } else {
        close(in[1]);
      }
      s.stdout_r.reset(out[0]);
      s.stderr_r.reset(err[0]);
    }
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 3; ++i) dup2(theirs[i], i);
      syscall(SYS_close_range, 3U, ~0U, 0U);  // as the runtime's init does: only stdio
      _exit(body());
    }
    for (int fd : theirs) close(fd);
    for (UniqueFd* fd : {&s.stdout_r, &s.stderr_r, &s.console, &s.stdin_w}) {
      if (fd->valid()) fcntl(fd->get(), F_SETFL, O_NONBLOCK);
    }
    s.init_pid = pid;
    s.slow_session_timeout_ns = slow_timeout_ns_;
    if (trim_idle_ns_ > 0) {
      s.trim_idle_ns = trim_idle_ns_;
      s.trim_pages = [this] { ++trims_; };
    }
    child_ = pid;
    monitor_ = std::make_unique<Monitor>(std::move(s));
    thread_ = std::thread([this] { result_ = monitor_->Run(); });
  }

  absl::StatusOr<ExitRecord> Finish() {
    thread_.join();
    return result_;
  }

  std::string Log() { return ReadFile(config_.log_path).value_or(""); }

  // Receives output on `c` until the session ends; stdout and stderr concatenated separately.
  static void Drain(AttachConnection& c, std::string* out, std::string* err, int timeout_ms = 10'000) {
    for (;;) {
      auto m = c.Receive(timeout_ms);
      ASSERT_TRUE(m.ok()) << m.status();
      ASSERT_TRUE(m->has_value()) << "timed out waiting for output";
      if ((*m)->first == kAttachClosed) return;
      ((*m)->first == kStderr ? err : out)->append((*m)->second);
    }
  }

  std::string dir_;
  MonitorConfig config_;
  sigset_t old_mask_;
  std::unique_ptr<Monitor> monitor_;
  std::thread thread_;
  absl::StatusOr<ExitRecord> result_ = absl::UnknownError("not run");
  int slave_ = -1;
  pid_t child_ = -1;
  int64_t slow_timeout_ns_ = kSlowSessionTimeoutNs;
  int64_t trim_idle_ns_ = 0;
  std::atomic<int> trims_{0};
};

TEST_F(MonitorTest, OutputReachesTheLogAndEveryAttacherAndExitIsRecorded) {
  config_.stdin = true;
  Start([] {
    std::string line;
    GetLine(&line);  // wait until both sessions are attached
    Put(1, "hello World\n");
    Put(2, "to stderr\n");
    Put(1, "no newline at exit");
    return 7;
  });
  auto a = AttachConnection::Connect(config_.attach_socket, true);
  auto b = AttachConnection::Connect(config_.attach_socket, false);
  ASSERT_TRUE(a.ok() && b.ok());
  // b is accepted before the child can answer a's stdin: the output needs another loop round.
  ASSERT_TRUE(a->SendStdin("go\n").ok());
  std::string a_out, a_err, b_out, b_err;
  Drain(*a, &a_out, &a_err);
  Drain(*b, &b_out, &b_err);
  EXPECT_EQ(a_out, "hello World\nno newline at exit");
  EXPECT_EQ(a_err, "to stderr\n");
  EXPECT_EQ(b_out, a_out);
  EXPECT_EQ(b_err, a_err);
  auto r = Finish();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->signal, 0);
  EXPECT_FALSE(r->oom_killed);
  std::string log = Log();
  EXPECT_NE(log.find(" stdout F hello World\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" stderr F to stderr\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" stdout P no newline at exit\n"), std::string::npos) << log;
  auto file = ReadExitFile(config_.exits_dir, "ctr1");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->exit_code, 7);
  EXPECT_EQ(file->pid, r->pid);
  EXPECT_GT(file->exited_at, 0);
  EXPECT_FALSE(PathExists(config_.attach_socket));
  EXPECT_FALSE(PathExists(config_.control_socket));
}

TEST_F(MonitorTest, SignalDeathIsRecordedAs128PlusSignal) {
  Start([] {
    Put(1, "bye\n");
    raise(SIGKILL);
    return 0;
  });
  auto r = Finish();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 137);
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_NE(Log().find(" stdout F bye\n"), std::string::npos);
}

TEST_F(MonitorTest, NoLineIsLostWhenTheContainerExitsRightAfterWriting) {
  Start([] {
    std::string all;
    for (int i = 0; i < 5000; ++i) all += StrCat("line ", i, "\n");
    Put(1, all);
    return 0;
  });
  ASSERT_TRUE(Finish().ok());
  std::string log = Log();
  size_t count = 0;
  for (size_t p = 0; (p = log.find(" stdout F line ", p)) != std::string::npos; ++p) ++count;
  EXPECT_EQ(count, 5000u);
  EXPECT_NE(log.find(" stdout F line 4999\n"), std::string::npos);
}

TEST_F(MonitorTest, StdinOnceClosesStdinWhenTheFirstStdinSessionEnds) {
  config_.stdin = true;
  config_.stdin_once = true;
  Start([] {
    std::string line;
    while (GetLine(&line)) Put(1, StrCat("got: ", line, "\n"));
    Put(1, "stdin closed\n");
    return 0;
  });
  {
    auto watcher = AttachConnection::Connect(config_.attach_socket, false);
    ASSERT_TRUE(watcher.ok());
    auto a = AttachConnection::Connect(config_.attach_socket, true);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->SendStdin("x\n").ok());
    auto m = watcher->Receive(10'000);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->second, "got: x\n");
  }  // both sessions end: the first stdin session's end closes the container's stdin
  auto r = Finish();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(Log().find(" stdout F stdin closed\n"), std::string::npos) << Log();
}

TEST_F(MonitorTest, WithoutStdinOnceStdinOutlivesSessions) {
  config_.stdin = true;
  Start([] {
    std::string line;
    while (GetLine(&line)) Put(1, StrCat("got: ", line, "\n"));
    return 0;
  });
  {
    auto a = AttachConnection::Connect(config_.attach_socket, true);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->SendStdin("one\n").ok());
    ASSERT_TRUE(a->CloseStdin().ok());
    auto m = a->Receive(10'000);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->second, "got: one\n");
  }
  auto b = AttachConnection::Connect(config_.attach_socket, true);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->SendStdin("two\n").ok());
  auto m = b->Receive(10'000);
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->second, "got: two\n");
  ASSERT_TRUE(CloseStdin(config_.control_socket).ok());
  auto r = Finish();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(MonitorTest, StdinIsDroppedWhenTheContainerHasNone) {
  Start([] {
    char c;
    ssize_t n = read(0, &c, 1);  // /dev/null-like: the write end was closed
    Put(1, n == 0 ? "eof\n" : "data\n");
    return 0;
  });
  auto a = AttachConnection::Connect(config_.attach_socket, true);
  ASSERT_TRUE(a.ok());
  (void)a->SendStdin("ignored\n");
  auto r = Finish();
  ASSERT_TRUE(r.ok());
  EXPECT_NE(Log().find(" stdout F eof\n"), std::string::npos);
}

// A child that waits for one stdin line, then writes kLines lines (~2 MiB) as fast as it can.
constexpr int kLines = 40000;
int Flood() {
  std::string line;
  GetLine(&line);
  std::string chunk;
  for (int i = 0; i < kLines; ++i) {
    chunk += StrCat("payload line ", i, " ", std::string(30, 'x'), "\n");
    if (chunk.size() > 8192) {
      Put(1, chunk);
      chunk.clear();
    }
  }
  Put(1, chunk);
  return 0;
}

int CountLines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST_F(MonitorTest, StuckAttacherIsDisconnectedWhileOthersAndTheLogGetEverything) {
  config_.stdin = true;
  slow_timeout_ns_ = 300'000'000;
  Start(Flood);
  auto stuck = AttachConnection::Connect(config_.attach_socket, false);
  auto fast = AttachConnection::Connect(config_.attach_socket, true);
  ASSERT_TRUE(stuck.ok() && fast.ok());
  ASSERT_TRUE(fast->SendStdin("go\n").ok());
  std::string out, err;
  Drain(*fast, &out, &err);
  EXPECT_EQ(CountLines(out), kLines);
  auto r = Finish();
  ASSERT_TRUE(r.ok());
  std::string stuck_out, stuck_err;
  Drain(*stuck, &stuck_out, &stuck_err);  // what the socket buffer held, then EOF
  EXPECT_LT(stuck_out.size(), out.size());
  EXPECT_EQ(CountLines(Log()), kLines);
}

TEST_F(MonitorTest, BrieflySlowAttacherLosesNothing) {
  config_.stdin = true;
  Start(Flood);
  auto slow = AttachConnection::Connect(config_.attach_socket, true);
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(slow->SendStdin("go\n").ok());
  usleep(500'000);  // the container is held back meanwhile
  std::string out, err;
  Drain(*slow, &out, &err);
  EXPECT_EQ(CountLines(out), kLines);
  EXPECT_NE(out.find("payload line 39999 "), std::string::npos);
  ASSERT_TRUE(Finish().ok());
  EXPECT_EQ(CountLines(Log()), kLines);
}

TEST_F(MonitorTest, ControlReopenLogAfterRename) {
  config_.stdin = true;
  Start([] {
    std::string line;
    while (GetLine(&line)) Put(1, line + "\n");
    return 0;
  });
  auto a = AttachConnection::Connect(config_.attach_socket, true);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->SendStdin("first\n").ok());
  auto m = a->Receive(10'000);
  ASSERT_TRUE(m.ok() && m->has_value());
  std::string rotated = config_.log_path + ".1";
  ASSERT_EQ(rename(config_.log_path.c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(ReopenLog(config_.control_socket).ok());
  ASSERT_TRUE(a->SendStdin("second\n").ok());
  m = a->Receive(10'000);
  ASSERT_TRUE(m.ok() && m->has_value());
  ASSERT_TRUE(CloseStdin(config_.control_socket).ok());
  ASSERT_TRUE(Finish().ok());
  std::string old_log = ReadFile(rotated).value_or("");
  EXPECT_NE(old_log.find(" stdout F first\n"), std::string::npos);
  EXPECT_EQ(old_log.find("second"), std::string::npos);
  EXPECT_NE(Log().find(" stdout F second\n"), std::string::npos);
  EXPECT_EQ(Log().find("first"), std::string::npos);
}

TEST_F(MonitorTest, ControlErrorsAreReported) {
  config_.stdin = true;
  Start([] {
    std::string line;
    while (GetLine(&line)) {
    }
    return 0;
  });
  absl::Status resize = ResizeTerminal(config_.control_socket, {80, 24});
  EXPECT_EQ(resize.code(), absl::StatusCode::kFailedPrecondition) << resize;
  EXPECT_NE(resize.message().find("no terminal"), absl::string_view::npos);
  ASSERT_TRUE(CloseStdin(config_.control_socket).ok());
  ASSERT_TRUE(Finish().ok());
  EXPECT_EQ(ReopenLog(config_.control_socket).code(), absl::StatusCode::kUnavailable);
}

TEST_F(MonitorTest, TerminalOutputIsStdoutAndResizeSetsTheWindowSize) {
  config_.terminal = true;
  config_.stdin = true;
  Start([] {
    std::string line;
    GetLine(&line);
    Put(1, "tty says hi\n");
    Put(2, "tty stderr\n");
    return 0;
  });
  ASSERT_TRUE(ResizeTerminal(config_.control_socket, {132, 43}).ok());
  winsize ws{};
  ASSERT_EQ(ioctl(slave_, TIOCGWINSZ, &ws), 0);
  EXPECT_EQ(ws.ws_col, 132);
  EXPECT_EQ(ws.ws_row, 43);
  auto a = AttachConnection::Connect(config_.attach_socket, true);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->Resize({100, 30}).ok());
  for (int i = 0; i < 1000 && ws.ws_col != 100; ++i) {
    usleep(5000);
    ASSERT_EQ(ioctl(slave_, TIOCGWINSZ, &ws), 0);
  }
  EXPECT_EQ(ws.ws_col, 100);
  EXPECT_EQ(ws.ws_row, 30);
  ASSERT_TRUE(a->SendStdin("go\n").ok());
  close(slave_);
  std::string out, err;
  Drain(*a, &out, &err);
  EXPECT_EQ(err, "");
  EXPECT_NE(out.find("tty says hi\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("tty stderr\r\n"), std::string::npos) << out;
  ASSERT_TRUE(Finish().ok());
  std::string log = Log();
  EXPECT_EQ(log.find(" stderr "), std::string::npos) << log;
  EXPECT_NE(log.find(" stdout F tty says hi\r\n"), std::string::npos) << log;
}

TEST_F(MonitorTest, TrimsPagesOnceIdleAfterStartAndAfterControlActivity) {
  config_.stdin = true;
  trim_idle_ns_ = 50'000'000;
  Start([] {
    std::string line;
    while (GetLine(&line)) Put(1, line + "\n");
    return 0;
  });
  usleep(300'000);
  EXPECT_EQ(trims_.load(), 1);  // once after start, then nothing while nothing happens
  ASSERT_TRUE(ReopenLog(config_.control_socket).ok());
  usleep(300'000);
  EXPECT_EQ(trims_.load(), 2);
  ASSERT_TRUE(CloseStdin(config_.control_socket).ok());
  ASSERT_TRUE(Finish().ok());
}

TEST_F(MonitorTest, RunAttachSessionPumpsDescriptors) {
  config_.stdin = true;
  Start([] {
    std::string line;
    while (GetLine(&line)) Put(line == "err" ? 2 : 1, line + "\n");
    return 0;
  });
  int in[2], out[2], err[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(err), 0);
  AttachStreams s;
  s.stdin_fd = in[0];
  s.stdout_fd = out[1];
  s.stderr_fd = err[1];
  absl::Status session;
  std::thread t([&] { session = RunAttachSession(config_.attach_socket, s); });
  Put(in[1], "out\nerr\n");
  close(in[1]);  // EOF on the session's stdin; the container's stdin stays open (no stdin_once)
  char buf[64];
  ssize_t n = read(out[0], buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "out\n");
  n = read(err[0], buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "err\n");
  ASSERT_TRUE(CloseStdin(config_.control_socket).ok());
  t.join();
  EXPECT_TRUE(session.ok()) << session;
  ASSERT_TRUE(Finish().ok());
  for (int fd : {in[0], out[0], out[1], err[0], err[1]}) close(fd);
}

TEST_F(MonitorTest, RunAttachSessionEndsOnCancel) {
  config_.stdin = true;
  Start([] {
    std::string line;
    while (GetLine(&line)) {
    }
    return 0;
  });
  int out[2], cancel[2];
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(cancel), 0);
  AttachStreams s;
  s.stdout_fd = out[1];
  s.cancel_fd = cancel[0];
  absl::Status session = absl::UnknownError("not run");
  std::thread t([&] { session = RunAttachSession(config_.attach_socket, s); });
  Put(cancel[1], "x");
  t.join();
  EXPECT_TRUE(session.ok()) << session;
  ASSERT_TRUE(CloseStdin(config_.control_socket).ok());
  ASSERT_TRUE(Finish().ok());
  for (int fd : {out[0], out[1], cancel[0], cancel[1]}) close(fd);
}

}  // namespace
}  // namespace cricket::conmon
