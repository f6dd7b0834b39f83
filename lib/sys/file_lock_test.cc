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

}  // namespace
}  // namespace cricket::sys
