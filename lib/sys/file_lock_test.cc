#include "lib/sys/file_lock.h"

#include <gtest/gtest.h>
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
    // flock locks belong to the open file description, so a second open in this process conflicts too;
    // a child process shows the cross-process case.
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

}  // namespace
}  // namespace cricket::sys
