#include "lib/sys/file_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::sys {
namespace {

TEST(FileLock, SecondHolderIsRefusedWithThePid) {
  char tmpl[] = "/tmp/cricket-lock-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/x.lock";
  {
    auto first = FileLock::TryAcquire(path);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(FileLock::TryAcquire(path).status().code(), absl::StatusCode::kFailedPrecondition)
        << "a second lock of the same file in this process";
    pid_t child = fork();
    if (child == 0) {
      auto second = FileLock::TryAcquire(path);
      bool refused = !second.ok() && absl::IsFailedPrecondition(second.status()) &&
                     second.status().message().find(StrCat("pid ", getppid())) != std::string::npos;
      _exit(refused ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // Released with the object: a new holder gets it.
  EXPECT_TRUE(FileLock::TryAcquire(path).ok());
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

TEST(OfdLockTest, SharedExclusiveDowngradeAndUnlink) {
  char tmpl[] = "/tmp/cricket-ofdlock-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = StrCat(tmpl, "/layer.lock");
  using Mode = OfdLock::Mode;
  {
    auto ex = OfdLock::Acquire(path, Mode::kExclusive, false);
    ASSERT_TRUE(ex.ok() && ex->has_value()) << ex.status();
    // A separate open in the same process conflicts (open file description locks).
    auto other = OfdLock::Acquire(path, Mode::kShared, false);
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->has_value());
    ASSERT_TRUE((*ex)->Downgrade().ok());
    auto shared = OfdLock::Acquire(path, Mode::kShared, false);
    ASSERT_TRUE(shared.ok() && shared->has_value());
    auto writer = OfdLock::Acquire(path, Mode::kExclusive, false);
    ASSERT_TRUE(writer.ok());
    EXPECT_FALSE(writer->has_value());
  }
  {
    // Removed while held: the next locker gets a fresh file, not the unlinked one.
    auto ex = OfdLock::Acquire(path, Mode::kExclusive, false);
    ASSERT_TRUE(ex.ok() && ex->has_value());
    (*ex)->UnlinkWhileHeld();
    auto next = OfdLock::Acquire(path, Mode::kExclusive, false);
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_TRUE(PathExists(path));
  }
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

// The crash that left cricketd's restart refused: the daemon is killed while a child it forked has not
// exec'd (or never will). That child must not keep the lock.
TEST(FileLock, AForkedChildDoesNotKeepTheLockOfAKilledHolder) {
  char tmpl[] = "/tmp/cricket-lock-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/x.lock";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t holder = fork();
  if (holder == 0) {
    auto lock = FileLock::TryAcquire(path);
    if (!lock.ok()) _exit(1);
    // A fork copy that keeps every inherited descriptor and outlives the holder.
    pid_t child = fork();
    if (child == 0) {
      sleep(30);
      _exit(0);
    }
    (void)!write(ready[1], &child, sizeof(child));
    pause();
    _exit(0);
  }
  close(ready[1]);
  pid_t child = -1;
  ASSERT_EQ(read(ready[0], &child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));
  close(ready[0]);
  auto refused = FileLock::TryAcquire(path);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(StrCat("pid ", holder)), std::string::npos) << refused.status();
  kill(holder, SIGKILL);
  ASSERT_EQ(waitpid(holder, nullptr, 0), holder);
  ASSERT_EQ(kill(child, 0), 0) << "the fork copy still runs, holding the lock file open";
  auto taken = FileLock::TryAcquire(path);
  EXPECT_TRUE(taken.ok()) << taken.status();
  kill(child, SIGKILL);
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace cricket::sys
