#include "lib/sys/sealed_exe.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/sys/clone.h"
#include "lib/sys/pidfd.h"

namespace cricket::sys {
namespace {

TEST(SealedExeTest, CopyIsSealedAgainstWrites) {
  auto fd = SealedCopy("/bin/sleep");
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fcntl(fd->get(), F_GET_SEALS) & kExeSeals, kExeSeals);
  EXPECT_LT(write(fd->get(), "x", 1), 0);
  EXPECT_EQ(errno, EPERM);
  // Reopening through /proc does not lift the seals either.
  std::string path = "/proc/self/fd/" + std::to_string(fd->get());
  int w = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (w >= 0) {
    EXPECT_LT(write(w, "x", 1), 0);
    close(w);
  }
  EXPECT_FALSE(RunsFromSealedCopy());  // the test binary itself is an ordinary file
}

TEST(SealedExeTest, ProcessStartedFromTheCopyRunsFromASealedExe) {
  auto fd = SealedCopy("/bin/sleep");
  ASSERT_TRUE(fd.ok()) << fd.status();
  int pidfd = -1;
  long pid = Clone3(CloneArgs{}, &pidfd);
  if (pid == 0) {
    const char* argv[] = {"sleep", "30", nullptr};
    const char* envp[] = {nullptr};
    syscall(SYS_execveat, fd->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  PidFd child(UniqueFd(pidfd), static_cast<pid_t>(pid));
  // Wait until it has exec'd (its exe is no longer ours).
  bool sealed = false;
  for (int i = 0; i < 200 && !sealed; ++i) {
    sealed = RunsFromSealedCopy(static_cast<int>(pid));
    if (!sealed) usleep(10'000);
  }
  EXPECT_TRUE(sealed);
  ASSERT_TRUE(child.Signal(SIGKILL).ok());
  ASSERT_TRUE(child.Reap().ok());
}

}  // namespace
}  // namespace cricket::sys
