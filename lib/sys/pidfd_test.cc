#include "lib/sys/pidfd.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/sys/clone.h"

namespace cricket::sys {
namespace {

// A child that sleeps until killed.
PidFd SpawnSleeper() {
  int pidfd = -1;
  long pid = Clone3(CloneArgs{}, &pidfd);
  if (pid == 0) {
    for (;;) pause();
  }
  EXPECT_GT(pid, 0);
  return PidFd(UniqueFd(pidfd), static_cast<pid_t>(pid));
}

TEST(PidFdTest, IdentityOpensAndSignals) {
  PidFd child = SpawnSleeper();
  auto id = IdentifyProcess(child.pid());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_GT(id->start_time, 0u);
  auto fd = PidFd::OpenIdentity(*id);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_FALSE(fd->Exited());
  ASSERT_TRUE(fd->Signal(SIGKILL).ok());
  auto exited = fd->WaitExited(5000);
  ASSERT_TRUE(exited.ok());
  EXPECT_TRUE(*exited);
  // A zombie still has /proc/<pid>/stat, in state Z.
  auto state = ReadProcessState(child.pid());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, 'Z');
  auto status = child.Reap();
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(status->has_value());
  EXPECT_TRUE(WIFSIGNALED(**status));
  EXPECT_EQ(ShellExitCode(**status), 128 + SIGKILL);
  // Gone now: NotFound, and signalling the stale pidfd reports NotFound too.
  EXPECT_TRUE(absl::IsNotFound(PidFd::OpenIdentity(*id).status()));
  EXPECT_TRUE(absl::IsNotFound(fd->Signal(SIGTERM)));
}

TEST(PidFdTest, WrongStartTimeIsAStranger) {
  PidFd child = SpawnSleeper();
  auto id = IdentifyProcess(child.pid());
  ASSERT_TRUE(id.ok());
  ProcessIdentity stale = *id;
  stale.start_time += 1;
  auto fd = PidFd::OpenIdentity(stale);
  EXPECT_TRUE(absl::IsNotFound(fd.status())) << fd.status();
  ASSERT_TRUE(child.Signal(SIGKILL).ok());
  ASSERT_TRUE(child.Reap().ok());
}

TEST(PidFdTest, PidOfPidFdAndExitCode) {
  int pidfd = -1;
  long pid = Clone3(CloneArgs{}, &pidfd);
  if (pid == 0) _exit(7);
  ASSERT_GT(pid, 0);
  PidFd child(UniqueFd(pidfd), static_cast<pid_t>(pid));
  auto p = PidOfPidFd(child.get());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, pid);
  auto status = child.Reap();
  ASSERT_TRUE(status.ok() && status->has_value());
  EXPECT_EQ(ShellExitCode(**status), 7);
  EXPECT_TRUE(absl::IsNotFound(PidOfPidFd(child.get()).status()));
}

TEST(PidFdTest, ZombieWaitStatusBeforeTheReap) {
  int pidfd = -1;
  long pid = Clone3(CloneArgs{}, &pidfd);
  if (pid == 0) _exit(42);
  ASSERT_GT(pid, 0);
  PidFd child(UniqueFd(pidfd), static_cast<pid_t>(pid));
  auto id = IdentifyProcess(child.pid());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(child.WaitExited(5000).value_or(false));
  auto status = ReadZombieWaitStatus(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(ShellExitCode(*status), 42);
  ProcessIdentity stranger = *id;
  stranger.start_time += 1;
  EXPECT_TRUE(absl::IsNotFound(ReadZombieWaitStatus(stranger).status()));
  ASSERT_TRUE(child.Reap().ok());
  EXPECT_TRUE(absl::IsNotFound(ReadZombieWaitStatus(*id).status()));

  PidFd sleeper = SpawnSleeper();
  auto running = IdentifyProcess(sleeper.pid());
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(ReadZombieWaitStatus(*running).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sleeper.Signal(SIGKILL).ok());
  ASSERT_TRUE(sleeper.WaitExited(5000).value_or(false));
  status = ReadZombieWaitStatus(*running);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(ShellExitCode(*status), 128 + SIGKILL);
  ASSERT_TRUE(sleeper.Reap().ok());
}

TEST(PidFdTest, ReapNohangWhileRunning) {
  PidFd child = SpawnSleeper();
  auto status = child.Reap(/*nohang=*/true);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->has_value());
  ASSERT_TRUE(child.Signal(SIGKILL).ok());
  ASSERT_TRUE(child.Reap().ok());
}

}  // namespace
}  // namespace cricket::sys
