#include "lib/sys/clone.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/sys/pidfd.h"

namespace cricket::sys {
namespace {

TEST(CloneTest, FormatIdMap) {
  EXPECT_EQ(FormatIdMap({{0, 1000, 1}, {1, 100000, 65536}}), "0 1000 1\n1 100000 65536\n");
}

TEST(CloneTest, NewUserNamespaceHasTheMapping) {
  auto fd = MakeUserNamespace({{0, 100000, 65536}}, {{0, 100000, 65536}});
  if (!fd.ok() &&
      (absl::IsPermissionDenied(fd.status()) || fd.status().message().find("EINVAL") != std::string::npos)) {
    GTEST_SKIP() << "user namespaces unavailable: " << fd.status();
  }
  ASSERT_TRUE(fd.ok()) << fd.status();
  struct stat ns, own;
  ASSERT_EQ(fstat(fd->get(), &ns), 0);
  ASSERT_EQ(stat("/proc/self/ns/user", &own), 0);
  EXPECT_NE(ns.st_ino, own.st_ino);
}

TEST(CloneTest, CloneIntoNewNamespacesNeedsPrivilege) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  int pidfd = -1;
  long pid = Clone3(CloneArgs{.flags = CLONE_NEWUTS | CLONE_NEWPID}, &pidfd);
  if (pid == 0) _exit(getpid() == 1 ? 0 : 1);
  ASSERT_GT(pid, 0) << "clone3: " << -pid;
  PidFd child(UniqueFd(pidfd), static_cast<pid_t>(pid));
  auto st = child.Reap();
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ(ShellExitCode(**st), 0) << "child was not pid 1 of its namespace";
}

}  // namespace
}  // namespace cricket::sys
