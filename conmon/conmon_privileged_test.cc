// Real cricket-conmon processes with busybox containers (needs root; skips otherwise): CRI log content,
// exit files, OOM kills, attach, stdin_once, tty resize, log reopen, a dying parent, a killed monitor,
// bad bundles, nothing left behind, and the monitor's RSS.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "conmon/attach_client.h"
#include "conmon/client.h"
#include "conmon/exit_watcher.h"
#include "conmon/monitor.h"
#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/runtime/cgroups/cgroup_path.h"
#include "lib/runtime/cgroups/layout.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/testing/test_bundle.h"
#include "lib/sys/mountinfo.h"

namespace cricket::conmon {
namespace {

using runtime::testing::TempDir;
using runtime::testing::TestBundle;

bool WaitFor(const std::function<bool()>& done, int timeout_ms = 10'000) {
  int64_t deadline = MonotonicNow() + int64_t{timeout_ms} * 1'000'000;
  while (!done()) {
    if (MonotonicNow() > deadline) return false;
    usleep(10'000);
  }
  return true;
}

// "VmRSS:" of /proc/<pid>/status in KiB, or -1.
int64_t RssKiB(pid_t pid) {
  auto status = ReadFile(StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return -1;
  for (std::string_view line : Split(*status, '\n')) {
    if (!line.starts_with("VmRSS:")) continue;
    std::string_view value = TrimSpace(line.substr(6));  // "812 kB"
    auto v = ParseInt64(value.substr(0, value.find(' ')));
    return v ? *v : -1;
  }
  return -1;
}

class ConmonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!PathExists(runtime::testing::kBusybox)) GTEST_SKIP() << "needs busybox-static";
    auto work = TempDir::Create("cricket-conmon-test");
    ASSERT_TRUE(work.ok()) << work.status();
    work_.emplace(std::move(*work));
    auto bundle = TestBundle::Create();
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    bundle_.emplace(std::move(*bundle));
    runtime::RuntimeOptions ro;
    ro.root = work_->path() + "/runtime";
    auto rt = runtime::Runtime::Open(ro);
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_.emplace(std::move(*rt));
    auto watcher = ExitWatcher::Open(exits());
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    watcher_.emplace(std::move(*watcher));
    id_ = StrCat("conmon-", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-", getpid());
  }

  void TearDown() override {
    if (!rt_) return;
    if (started_) {
      (void)rt_->Delete(id_, /*force=*/true);
      if (!WaitFor([&] { return !IsMonitorAlive(info_.monitor); })) {
        ADD_FAILURE() << "monitor still running after its container was deleted";
        if (auto fd = sys::PidFd::OpenIdentity(info_.monitor); fd.ok()) (void)fd->Signal(SIGKILL);
      }
      ExpectNothingLeft();
    }
    if (!HasFailure()) return;
    auto diag = ReadFile(diagnostics());
    if (diag.ok()) std::fprintf(stderr, "--- cricket-conmon diagnostics ---\n%s", diag->c_str());
  }

  std::string exits() const { return work_->path() + "/exits"; }
  std::string attach() const { return work_->path() + "/sockets/" + id_ + "/attach"; }
  std::string control() const { return work_->path() + "/sockets/" + id_ + "/ctl"; }
  std::string log_path() const { return work_->path() + "/pods/ns_pod_uid/ctr/0.log"; }
  std::string diagnostics() const { return work_->path() + "/conmon.log"; }

  MonitorOptions Options() {
    MonitorOptions o;
    o.conmon_path = CRICKET_CONMON_PATH;
    o.config.id = id_;
    o.config.runtime_root = rt_->options().root;
    o.config.bundle = bundle_->dir();
    o.config.log_path = log_path();
    o.config.exits_dir = exits();
    o.config.attach_socket = attach();
    o.config.control_socket = control();
    o.config.log_level = "debug";
    o.diagnostics_log = diagnostics();
    o.timeout = absl::Seconds(60);
    return o;
  }

  // Writes the spec and spawns the monitor; the container is created, not started.
  absl::Status Spawn(const MonitorOptions& o) {
    RETURN_IF_ERROR(bundle_->WriteSpec());
    ASSIGN_OR_RETURN(info_, SpawnMonitor(o));
    started_ = true;
    return absl::OkStatus();
  }
  absl::Status SpawnAndStart(const MonitorOptions& o) {
    RETURN_IF_ERROR(Spawn(o));
    return rt_->Start(id_);
  }

  // The exit record of this test's container, as the ExitWatcher reports it.
  absl::StatusOr<ExitRecord> WaitExit(absl::Duration timeout = absl::Seconds(30)) {
    int64_t deadline = MonotonicNow() + absl::ToInt64Nanoseconds(timeout);
    while (MonotonicNow() < deadline) {
      ASSIGN_OR_RETURN(std::vector<ExitRecord> records, watcher_->Wait(absl::Seconds(1)));
      for (auto& r : records) {
        if (r.id == id_) return r;
      }
    }
    return absl::DeadlineExceededError("no exit record");
  }

  std::string Log(const std::string& path = "") {
    return ReadFile(path.empty() ? log_path() : path).value_or("");
  }

  // Every record of the log as {stream, tag, content}, checking the CRI format of each line.
  std::vector<std::vector<std::string>> Records(const std::string& path = "") {
    std::vector<std::vector<std::string>> out;
    std::string text = Log(path);
    EXPECT_TRUE(text.empty() || text.back() == '\n');
    for (std::string_view line : Split(text, '\n')) {
      if (line.empty()) continue;
      size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
      if (c == std::string_view::npos) {
        ADD_FAILURE() << "malformed log line: " << line;
        continue;
      }
      EXPECT_TRUE(ParseRFC3339(std::string(line.substr(0, a))).ok()) << line;
      std::string stream(line.substr(a + 1, b - a - 1)), tag(line.substr(b + 1, c - b - 1));
      EXPECT_TRUE(stream == "stdout" || stream == "stderr") << line;
      EXPECT_TRUE(tag == "F" || tag == "P") << line;
      out.push_back({stream, tag, std::string(line.substr(c + 1))});
    }
    return out;
  }

  void ExpectNothingLeft() {
    EXPECT_FALSE(PathExists(rt_->options().root + "/" + id_)) << "runtime state left behind";
    EXPECT_FALSE(PathExists(attach())) << "attach socket left behind";
    EXPECT_FALSE(PathExists(control())) << "control socket left behind";
    auto init = sys::PidFd::OpenIdentity(info_.container);  // a zombie of PID 1 is not running
    EXPECT_TRUE(!init.ok() || init->Exited()) << "container init still running";
    auto layout = cgroups::Layout::Detect();
    auto where = cgroups::ParseCgroupsPath(cgroups::Driver::kCgroupfs, "", id_);
    if (layout.ok() && where.ok()) {
      for (const auto& h : layout->hierarchies()) {
        std::string dir = cgroups::DirIn(h, *where);
        EXPECT_FALSE(PathExists(dir)) << "cgroup " << dir << " left behind";
      }
    }
    auto mounts = sys::MountsUnder(bundle_->dir());
    if (mounts.ok()) {
      EXPECT_TRUE(mounts->empty()) << "mount left behind: " << Join(*mounts, " ");
    }
  }

  static void Drain(AttachConnection& c, std::string* out, std::string* err) {
    for (;;) {
      auto m = c.Receive(20'000);
      ASSERT_TRUE(m.ok()) << m.status();
      ASSERT_TRUE(m->has_value()) << "timed out waiting for output";
      if ((*m)->first == kAttachClosed) return;
      ((*m)->first == kStderr ? err : out)->append((*m)->second);
    }
  }

  std::optional<TempDir> work_;
  std::optional<TestBundle> bundle_;
  std::optional<runtime::Runtime> rt_;
  std::optional<ExitWatcher> watcher_;
  std::string id_;
  MonitorInfo info_;
  bool started_ = false;
};

TEST_F(ConmonTest, LogsOutputInCriFormatAndRecordsTheExitCode) {
  bundle_->SetScript("echo hello World; echo oops >&2; printf 'no newline'; exit 3");
  ASSERT_TRUE(SpawnAndStart(Options()).ok());
  auto r = WaitExit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->signal, 0);
  EXPECT_FALSE(r->oom_killed);
  EXPECT_EQ(r->pid, info_.container.pid);
  EXPECT_GT(r->exited_at, RealtimeNow() - 60'000'000'000);
  auto records = Records();
  using R = std::vector<std::string>;
  EXPECT_NE(std::find(records.begin(), records.end(), R{"stdout", "F", "hello World"}), records.end());
  EXPECT_NE(std::find(records.begin(), records.end(), R{"stderr", "F", "oops"}), records.end());
  EXPECT_NE(std::find(records.begin(), records.end(), R{"stdout", "P", "no newline"}), records.end());
  auto file = ReadExitFile(exits(), id_);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->exit_code, 3);
  EXPECT_TRUE(WaitFor([&] { return !IsMonitorAlive(info_.monitor); })) << "monitor did not exit";
  auto state = rt_->State(id_);  // conmon never deletes the container
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->status, oci::ContainerStatus::kStopped);
  std::string diag = ReadFile(diagnostics()).value_or("");
  EXPECT_NE(diag.find("msg=\"container created\""), std::string::npos) << diag;
  EXPECT_NE(diag.find("msg=\"container exited\""), std::string::npos) << diag;
}

TEST_F(ConmonTest, MonitorIsDetachedAndCreatesHeldContainer) {
  bundle_->SetScript("echo started");
  ASSERT_TRUE(Spawn(Options()).ok());
  EXPECT_TRUE(IsMonitorAlive(info_.monitor));
  auto status = ReadFile(StrCat("/proc/", info_.monitor.pid, "/status"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->find(StrCat("\nPPid:\t", getpid(), "\n")), std::string::npos) << "conmon is our child";
  auto stat = ReadFile(StrCat("/proc/", info_.monitor.pid, "/stat"));
  ASSERT_TRUE(stat.ok());
  // Field 6 (session) equals the pid: a session leader, away from the caller's session.
  std::string after_comm = stat->substr(stat->rfind(')') + 2);
  auto fields = Split(after_comm, ' ');
  EXPECT_EQ(fields[3], StrCat(info_.monitor.pid));
  auto init_status = ReadFile(StrCat("/proc/", info_.container.pid, "/status"));
  ASSERT_TRUE(init_status.ok());
  EXPECT_NE(init_status->find(StrCat("\nPPid:\t", info_.monitor.pid, "\n")), std::string::npos)
      << "the init is not conmon's child";
  auto state = rt_->State(id_);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->status, oci::ContainerStatus::kCreated);
  EXPECT_EQ(Log().find("started"), std::string::npos);
  ASSERT_TRUE(rt_->Start(id_).ok());
  auto r = WaitExit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(Log().find(" stdout F started\n"), std::string::npos);
}

TEST_F(ConmonTest, OomKillIsRecorded) {
  oci::MemoryResources mem;
  mem.limit = 16 << 20;
  mem.swap = 16 << 20;
  bundle_->spec().linux->resources.emplace();
  bundle_->spec().linux->resources->memory = mem;
  bundle_->SetScript("echo allocating; dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived");
  ASSERT_TRUE(SpawnAndStart(Options()).ok());
  auto r = WaitExit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->oom_killed);
  EXPECT_NE(Log().find("allocating"), std::string::npos);
}

TEST_F(ConmonTest, SignalledInitIsRecorded) {
  bundle_->SetScript("echo ready; exec sleep 1000");
  ASSERT_TRUE(SpawnAndStart(Options()).ok());
  ASSERT_TRUE(WaitFor([&] { return Log().find("ready") != std::string::npos; }));
  ASSERT_TRUE(rt_->Kill(id_, SIGKILL).ok());
  auto r = WaitExit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 137);
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_FALSE(r->oom_killed);
}

TEST_F(ConmonTest, TwoAttachersSeeTheSameOutputAndStdinReachesTheContainer) {
  bundle_->SetScript("read line; echo got:$line; echo err:$line >&2; exit 0");
  MonitorOptions o = Options();
  o.config.stdin = true;
  ASSERT_TRUE(SpawnAndStart(o).ok());
  auto a = AttachConnection::Connect(attach(), true);
  auto b = AttachConnection::Connect(attach(), false);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->SendStdin("hi there\n").ok());
  std::string a_out, a_err, b_out, b_err;
  Drain(*a, &a_out, &a_err);
  Drain(*b, &b_out, &b_err);
  EXPECT_EQ(a_out, "got:hi there\n");
  EXPECT_EQ(a_err, "err:hi there\n");
  EXPECT_EQ(b_out, a_out);
  EXPECT_EQ(b_err, a_err);
  auto r = WaitExit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(ConmonTest, RunAttachSessionStreamsThroughDescriptors) {
  bundle_->SetScript("while read l; do echo out:$l; echo err:$l >&2; done; echo bye");
  MonitorOptions o = Options();
  o.config.stdin = true;
  o.config.stdin_once = true;
  ASSERT_TRUE(SpawnAndStart(o).ok());
  int in[2], out[2], err[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
  ASSERT_EQ(write(in[1], "x\ny\n", 4), 4);
  close(in[1]);  // the client half-closes stdin: with stdin_once the container's stdin closes
  AttachStreams s;
  s.stdin_fd = in[0];
  s.stdout_fd = out[1];
  s.stderr_fd = err[1];
  absl::Status session = RunAttachSession(attach(), s);
  EXPECT_TRUE(session.ok()) << session;
  close(out[1]);
  close(err[1]);
  std::string o_text, e_text;
  char buf[256];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) o_text.append(buf, static_cast<size_t>(n));
  while ((n = read(err[0], buf, sizeof(buf))) > 0) e_text.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(o_text, "out:x\nout:y\nbye\n");
  EXPECT_EQ(e_text, "err:x\nerr:y\n");
  for (int fd : {in[0], out[0], err[0]}) close(fd);
  auto r = WaitExit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(ConmonTest, StdinOnceClosesStdinAfterTheFirstSession) {
  bundle_->SetScript("cat; echo cat-done");
  MonitorOptions o = Options();
  o.config.stdin = true;
  o.config.stdin_once = true;
  ASSERT_TRUE(SpawnAndStart(o).ok());
  {
    auto a = AttachConnection::Connect(attach(), true);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->SendStdin("abc\n").ok());
    auto m = a->Receive(20'000);
    ASSERT_TRUE(m.ok() && m->has_value());
    EXPECT_EQ((*m)->second, "abc\n");
  }
  auto r = WaitExit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(Log().find(" stdout F cat-done\n"), std::string::npos) << Log();
}

TEST_F(ConmonTest, TerminalWithResize) {
  bundle_->spec().process->terminal = true;
  bundle_->SetScript("read x; stty size; echo to-stderr >&2; exit 5");
  MonitorOptions o = Options();
  o.config.terminal = true;
  o.config.stdin = true;
  ASSERT_TRUE(SpawnAndStart(o).ok());
  ASSERT_TRUE(ResizeTerminal(control(), {123, 45}).ok());
  auto a = AttachConnection::Connect(attach(), true);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->SendStdin("go\r").ok());
  std::string out, err;
  Drain(*a, &out, &err);
  EXPECT_NE(out.find("45 123"), std::string::npos) << out;
  EXPECT_NE(out.find("to-stderr"), std::string::npos) << out;
  EXPECT_EQ(err, "");
  auto r = WaitExit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 5);
  for (const auto& rec : Records()) EXPECT_EQ(rec[0], "stdout");
  EXPECT_NE(Log().find("45 123"), std::string::npos);
}

TEST_F(ConmonTest, ReopenLogAfterRename) {
  bundle_->SetScript("while read l; do echo $l; done");
  MonitorOptions o = Options();
  o.config.stdin = true;
  ASSERT_TRUE(SpawnAndStart(o).ok());
  auto a = AttachConnection::Connect(attach(), true);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->SendStdin("first\n").ok());
  ASSERT_TRUE(WaitFor([&] { return Log().find(" F first\n") != std::string::npos; }));
  std::string rotated = log_path() + ".20260101-000000";
  ASSERT_EQ(rename(log_path().c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(ReopenLog(control()).ok());
  EXPECT_TRUE(PathExists(log_path()));
  ASSERT_TRUE(a->SendStdin("second\n").ok());
  ASSERT_TRUE(WaitFor([&] { return Log().find(" F second\n") != std::string::npos; }));
  EXPECT_EQ(Log(rotated).find("second"), std::string::npos);
  EXPECT_EQ(Log().find("first"), std::string::npos);
  ASSERT_TRUE(CloseStdin(control()).ok());
  auto r = WaitExit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(ConmonTest, SurvivesTheDeathOfItsParent) {
  bundle_->SetScript("echo survived; exit 4");
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  MonitorOptions o = Options();
  pid_t parent = fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    auto info = SpawnMonitor(o);
    std::string msg = info.ok() ? StrCat(info->monitor.pid, " ", info->monitor.start_time, " ",
                                         info->container.pid, " ", info->container.start_time)
                                : std::string(info.status().message());
    (void)!write(p[1], msg.data(), msg.size());
    _exit(info.ok() ? 0 : 1);
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  ASSERT_EQ(waitpid(parent, &status, 0), parent);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << msg;
  auto f = Split(msg, ' ');
  ASSERT_EQ(f.size(), 4u);
  info_.monitor = {static_cast<pid_t>(*ParseInt64(f[0])), *ParseUint64(f[1])};
  info_.container = {static_cast<pid_t>(*ParseInt64(f[2])), *ParseUint64(f[3])};
  started_ = true;
  // The parent that spawned it is gone; the monitor and its held container are not.
  EXPECT_TRUE(IsMonitorAlive(info_.monitor));
  ASSERT_TRUE(rt_->Start(id_).ok());
  auto r = WaitExit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_NE(Log().find(" stdout F survived\n"), std::string::npos);
}

TEST_F(ConmonTest, KilledMonitorLeavesTheContainerRunning) {
  bundle_->SetScript("exec sleep 1000");
  ASSERT_TRUE(SpawnAndStart(Options()).ok());
  auto monitor = sys::PidFd::OpenIdentity(info_.monitor);
  ASSERT_TRUE(monitor.ok());
  ASSERT_TRUE(monitor->Signal(SIGKILL).ok());
  ASSERT_TRUE(WaitFor([&] { return !IsMonitorAlive(info_.monitor); }));
  // The container outlives its monitor; without an exit file, the init's pidfd is the fallback.
  auto init = sys::PidFd::OpenIdentity(info_.container);
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_FALSE(init->Exited());
  EXPECT_EQ(ReadExitFile(exits(), id_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(rt_->Delete(id_, /*force=*/true).ok());
  auto gone = init->WaitExited(10'000);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(*gone);
  // The killed monitor could not remove its sockets; cricketd removes the container's directory.
  ASSERT_TRUE(RemoveAll(work_->path() + "/sockets/" + id_).ok());
}

TEST_F(ConmonTest, BadBundleFailsWithTheRuntimesErrorAndLeavesNothing) {
  MonitorOptions o = Options();
  o.config.bundle = work_->path() + "/no-such-bundle";
  auto info = SpawnMonitor(o);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("no-such-bundle"), absl::string_view::npos) << info.status();
  EXPECT_FALSE(PathExists(attach()));
  EXPECT_FALSE(PathExists(control()));
  EXPECT_FALSE(PathExists(rt_->options().root + "/" + id_));
  EXPECT_FALSE(PathExists(exits() + "/" + id_));
}

TEST_F(ConmonTest, TerminalMismatchIsAnError) {
  MonitorOptions o = Options();
  o.config.terminal = true;  // config.json does not ask for a terminal
  ASSERT_TRUE(bundle_->WriteSpec().ok());
  auto info = SpawnMonitor(o);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << info.status();
  EXPECT_NE(info.status().message().find("terminal"), absl::string_view::npos);
  EXPECT_FALSE(PathExists(rt_->options().root + "/" + id_));
}

TEST_F(ConmonTest, MonitorRssWithARunningContainer) {
  bundle_->SetScript("echo up; while read l; do echo $l; done");
  MonitorOptions o = Options();
  o.config.stdin = true;
  ASSERT_TRUE(SpawnAndStart(o).ok());
  ASSERT_TRUE(WaitFor([&] { return Log().find(" F up\n") != std::string::npos; }));
  // The first loop rounds count as a cold path too: the monitor trims kTrimIdleNs after them.
  usleep(static_cast<useconds_t>(kTrimIdleNs / 1000 + 500'000));
  int64_t idle = RssKiB(info_.monitor.pid);
  ASSERT_GT(idle, 0);
  std::printf("cricket-conmon VmRSS, container running, idle: %lld KiB\n", static_cast<long long>(idle));
  RecordProperty("conmon_rss_idle_kib", static_cast<int>(idle));
  // The 1 MiB target itself is a benchmark figure (hack/bench/pods measures every monitor beside
  // containerd's shims); what this test checks is that the trim works.
  // After attach, stdin, output to a session, a log reopen and a resize error: every loop path ran.
  {
    auto a = AttachConnection::Connect(attach(), true);
    ASSERT_TRUE(a.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(a->SendStdin(StrCat("line ", i, "\n")).ok());
    std::string got;
    while (got.find("line 99\n") == std::string::npos) {
      auto m = a->Receive(20'000);
      ASSERT_TRUE(m.ok() && m->has_value());
      got += (*m)->second;
    }
    ASSERT_TRUE(ReopenLog(control()).ok());
    EXPECT_FALSE(ResizeTerminal(control(), {80, 24}).ok());
  }
  usleep(200'000);
  int64_t used = RssKiB(info_.monitor.pid);
  std::printf("cricket-conmon VmRSS, after an attach session: %lld KiB\n", static_cast<long long>(used));
  RecordProperty("conmon_rss_after_attach_kib", static_cast<int>(used));
  // kTrimIdleNs after the last attach/control event the monitor drops those paths' pages again.
  usleep(static_cast<useconds_t>(kTrimIdleNs / 1000 + 500'000));
  int64_t trimmed = RssKiB(info_.monitor.pid);
  std::printf("cricket-conmon VmRSS, idle again: %lld KiB\n", static_cast<long long>(trimmed));
  EXPECT_LT(trimmed, used) << "the attach and control paths' pages were not dropped again";
  ASSERT_TRUE(CloseStdin(control()).ok());
  ASSERT_TRUE(WaitExit().ok());
}

}  // namespace
}  // namespace cricket::conmon
