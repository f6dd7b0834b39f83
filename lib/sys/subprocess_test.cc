#include "lib/sys/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

Command Sh(const std::string& script, std::vector<std::string> env = {}) {
  return Command{"/bin/sh", {"sh", "-c", script}, std::move(env), ""};
}

// Field `index` (1-based, as in proc(5)) of /proc/<pid>/stat.
std::string StatField(pid_t pid, int index) {
  auto stat = ReadFile(StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return "";
  std::string rest = stat->substr(stat->rfind(')') + 2);  // after "pid (comm) "
  auto fields = Split(rest, ' ');
  return index - 3 < static_cast<int>(fields.size()) ? std::string(fields[index - 3]) : "";
}

TEST(Run, CapturesStdoutStderrAndExitCode) {
  auto r = RunProcess(Sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "out\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_EQ(r->status.code, 3);
  EXPECT_FALSE(r->status.success());
  EXPECT_EQ(r->status.ToString(), "exit status 3");
  EXPECT_FALSE(r->timed_out);
}

TEST(Run, FeedsStdinLargerThanAPipe) {
  std::string data(3 << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 997) data[i] = static_cast<char>('a' + i % 26);
  RunOptions opts;
  opts.stdin_data = data;
  auto r = RunProcess(Command{"/bin/cat", {}, {}, ""}, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->status.success());
  EXPECT_EQ(r->stdout_data, data);
}

TEST(Run, ChildThatIgnoresStdinDoesNotHurtTheCaller) {
  RunOptions opts;
  opts.stdin_data = std::string(8 << 20, 'y');
  auto r = RunProcess(Command{"/bin/true", {}, {}, ""}, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->status.success());
}

TEST(Run, EnvironmentIsExactlyWhatIsPassed) {
  auto r = RunProcess(Command{"/usr/bin/env", {"env"}, {"A=1", "B=two words"}, ""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "A=1\nB=two words\n");
}

TEST(Run, WorkingDirectory) {
  auto r = RunProcess(Command{"/bin/pwd", {}, {}, "/usr/lib"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "/usr/lib\n");
  auto missing = RunProcess(Command{"/bin/pwd", {}, {}, "/nonexistent-dir"});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("/nonexistent-dir"), std::string::npos);
}

TEST(Run, StartErrorsNameTheProgram) {
  auto missing = RunProcess(Command{"/nonexistent/plugin", {}, {}, ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("/nonexistent/plugin"), std::string::npos);
  auto relative = RunProcess(Command{"sh", {}, {}, ""});
  EXPECT_TRUE(absl::IsInvalidArgument(relative.status())) << relative.status();
  char tmpl[] = "/tmp/cricket-noexec-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  chmod(tmpl, 0644);
  auto not_exec = RunProcess(Command{tmpl, {}, {}, ""});
  unlink(tmpl);
  EXPECT_TRUE(absl::IsPermissionDenied(not_exec.status())) << not_exec.status();
}

TEST(Run, TimeoutKillsAndReaps) {
  RunOptions opts;
  opts.timeout = absl::Milliseconds(200);
  auto r = RunProcess(Command{"/bin/sleep", {"sleep", "30"}, {}, ""}, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->status.signal, SIGKILL);
  EXPECT_EQ(r->status.ToString(), "killed by signal 9 (SIGKILL)");
  EXPECT_LT(r->elapsed, absl::Seconds(5));
  EXPECT_GE(r->elapsed, absl::Milliseconds(200));
}

TEST(Run, OutputIsBounded) {
  RunOptions opts;
  opts.stdout_limit = 1000;
  auto r = RunProcess(Command{"/usr/bin/head", {"head", "-c", "200000", "/dev/zero"}, {}, ""}, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->status.success());
  EXPECT_EQ(r->stdout_data.size(), 1000u);
  EXPECT_TRUE(r->stdout_truncated);
}

TEST(Run, OnlyStdioIsInherited) {
  // Deliberately without O_CLOEXEC, and above the fds the shell opens itself.
  int leaked = fcntl(STDIN_FILENO, F_DUPFD, 40);
  ASSERT_GE(leaked, 40);
  auto r = RunProcess(Sh("cd /proc/self/fd && echo *"));
  close(leaked);
  ASSERT_TRUE(r.ok()) << r.status();
  // The shell's own fds: 0-2 plus the directory fd that the glob holds open while listing.
  std::vector<std::string> fds;
  for (auto f : Split(TrimSpace(r->stdout_data), ' ')) fds.emplace_back(f);
  EXPECT_LE(fds.size(), 4u) << r->stdout_data;
  for (const std::string& f : fds) EXPECT_NE(f, StrCat(leaked)) << r->stdout_data;
}

TEST(Run, SignalDispositionsAndMaskAreReset) {
  struct sigaction ign {
  }, old_term{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGTERM, &ign, &old_term), 0);
  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
  auto blocked = RunProcess(Sh("grep -E '^Sig(Blk|Ign)' /proc/self/status"));
  auto killed = RunProcess(Sh("kill -TERM $$; echo survived"));
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  ASSERT_TRUE(blocked.ok()) << blocked.status();
  EXPECT_NE(blocked->stdout_data.find("SigBlk:\t0000000000000000"), std::string::npos)
      << blocked->stdout_data;
  EXPECT_NE(blocked->stdout_data.find("SigIgn:\t0000000000000000"), std::string::npos)
      << blocked->stdout_data;
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(killed->status.signal, SIGTERM) << killed->stdout_data;
}

TEST(Run, GrandchildHoldingOutputDoesNotBlockPastTheGrace) {
  RunOptions opts;
  opts.output_grace = absl::Milliseconds(100);
  auto r = RunProcess(Sh("sleep 3 & echo started"), opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "started\n");
  EXPECT_LT(r->elapsed, absl::Seconds(2));
}

TEST(Run, ManyThreadsAtOnce) {
  std::atomic<int> ok{0};
  std::atomic<bool> stop{false};
  // A thread that keeps allocating, so that a child inheriting a held malloc lock would show up as a
  // hang.
  std::thread churn([&] {
    while (!stop) {
      std::vector<std::string> v(64, std::string(1000, 'z'));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        RunOptions opts;
        opts.stdin_data = StrCat(t, "-", i);
        auto r = RunProcess(Command{"/bin/cat", {}, {}, ""}, opts);
        if (r.ok() && r->status.success() && r->stdout_data == opts.stdin_data) ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  churn.join();
  EXPECT_EQ(ok.load(), 8 * 40);
}

// A caller killed while its child runs (cricketd during a CNI plugin call): the child dies with it.
TEST(Run, ChildDiesWithTheCaller) {
  char tmpl[] = "/tmp/cricket-subprocess-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string pid_file = std::string(tmpl) + "/pid";
  pid_t caller = fork();
  if (caller == 0) {
    (void)RunProcess(Command{"/bin/sh", {"sh", "-c", "echo $$ > " + pid_file + "; exec sleep 30"}, {}, ""});
    _exit(0);
  }
  pid_t child = 0;
  for (int i = 0; i < 500 && child <= 0; ++i) {
    usleep(10'000);
    child = static_cast<pid_t>(ParseInt64(TrimSpace(ReadFile(pid_file).value_or(""))).value_or(0));
  }
  ASSERT_GT(child, 0);
  ASSERT_EQ(kill(caller, SIGKILL), 0);
  ASSERT_EQ(waitpid(caller, nullptr, 0), caller);
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    std::string stat = ReadFile(StrCat("/proc/", child, "/stat")).value_or("");
    gone = stat.empty() || stat.find(") Z ") != std::string::npos;
    if (!gone) usleep(10'000);
  }
  EXPECT_TRUE(gone) << "the child of a killed caller still runs: pid " << child;
  if (!gone) kill(child, SIGKILL);
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

TEST(Spawn, NewSessionAndKill) {
  auto p = SpawnProcess(Command{"/bin/sleep", {"sleep", "30"}, {}, ""});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(StatField(p->pid(), 6), StrCat(p->pid()));  // session id == its pid
  EXPECT_EQ(StatField(p->pid(), 4), StrCat(getpid()));  // still our child
  auto still = p->Wait(absl::Milliseconds(50));
  EXPECT_TRUE(absl::IsDeadlineExceeded(still.status())) << still.status();
  auto st = p->Kill();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->signal, SIGKILL);
  EXPECT_FALSE(PathExists(StrCat("/proc/", p->pid(), "/stat")) && StatField(p->pid(), 4) == StrCat(getpid()));
}

TEST(Spawn, DroppingAnExitedChildReapsIt) {
  pid_t pid;
  {
    auto p = SpawnProcess(Command{"/bin/true", {}, {}, ""});
    ASSERT_TRUE(p.ok()) << p.status();
    pid = p->pid();
    ASSERT_TRUE(p->WaitExited(absl::Seconds(10)).value_or(false));
    EXPECT_EQ(StatField(pid, 3), "Z");
  }
  EXPECT_FALSE(PathExists(StrCat("/proc/", pid, "/stat")));
}

TEST(Spawn, HandsOverChosenDescriptors) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  SpawnOptions opts;
  // The parent's fd may well be 5 or 6 itself; the mapping must still come out right.
  opts.extra_fds = {{5, fds[1]}, {6, fds[1]}};
  opts.stdout_fd = fds[1];
  auto p = SpawnProcess(Sh("echo one >&5; echo two >&6; echo three"), opts);
  close(fds[1]);
  ASSERT_TRUE(p.ok()) << p.status();
  auto st = p->Wait();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->success());
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, n);
  close(fds[0]);
  EXPECT_EQ(got, "one\ntwo\nthree\n");
}

TEST(Spawn, ReparentedChildIsNotOurs) {
  SpawnOptions opts;
  opts.reparent = true;
  auto p = SpawnProcess(Command{"/bin/sleep", {"sleep", "30"}, {}, ""}, opts);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->reparented());
  EXPECT_NE(StatField(p->pid(), 4), StrCat(getpid()));
  EXPECT_EQ(StatField(p->pid(), 6), StrCat(p->pid()));
  EXPECT_TRUE(absl::IsFailedPrecondition(p->Wait().status()));
  auto exited = p->WaitExited(absl::Milliseconds(20));
  ASSERT_TRUE(exited.ok());
  EXPECT_FALSE(*exited);
  ASSERT_TRUE(p->Signal(SIGKILL).ok());
  exited = p->WaitExited(absl::Seconds(10));
  ASSERT_TRUE(exited.ok());
  EXPECT_TRUE(*exited);
}

TEST(Spawn, ReparentedStartErrorIsReported) {
  SpawnOptions opts;
  opts.reparent = true;
  auto p = SpawnProcess(Command{"/nonexistent/conmon", {}, {}, ""}, opts);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(absl::IsNotFound(p.status())) << p.status();
}

TEST(Spawn, RejectsBadMappings) {
  SpawnOptions opts;
  opts.extra_fds = {{2, 0}};
  EXPECT_TRUE(absl::IsInvalidArgument(SpawnProcess(Command{"/bin/true", {}, {}, ""}, opts).status()));
  opts.extra_fds = {{7, 0}, {7, 1}};
  EXPECT_TRUE(absl::IsInvalidArgument(SpawnProcess(Command{"/bin/true", {}, {}, ""}, opts).status()));
}

}  // namespace
}  // namespace cricket::sys
