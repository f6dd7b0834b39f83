#include "lib/sys/secure_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"
#include "lib/common/unique_fd.h"
#include "lib/sys/fake_sys.h"

namespace cricket::sys {
namespace {

class SecurePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-securepath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    outside_ = dir_ + "/outside";
    ASSERT_TRUE(MkdirAll(root_ + "/etc").ok());
    ASSERT_TRUE(MkdirAll(outside_).ok());
    root_fd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  std::string dir_, root_, outside_;
  UniqueFd root_fd_;
};

TEST_F(SecurePathTest, AbsoluteSymlinkStaysInsideRoot) {
  // An image symlink pointing at the host's /outside must resolve to <root>/outside.
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/evil").c_str()), 0);
  int fd = MkdirAllInRoot(LinuxSys(), root_fd_.get(), "/evil/sub", 0755);
  ASSERT_GE(fd, 0) << fd;
  close(fd);
  struct stat st;
  EXPECT_NE(stat((outside_ + "/sub").c_str(), &st), 0) << "escaped the root";
  // The symlink's target was created inside the root instead.
  EXPECT_EQ(stat((root_ + outside_ + "/sub").c_str(), &st), 0);
}

TEST_F(SecurePathTest, DotDotIsClampedAtRoot) {
  int fd = EnsureMountTargetInRoot(LinuxSys(), root_fd_.get(), "/../../../x/file", true);
  ASSERT_GE(fd, 0) << fd;
  close(fd);
  struct stat st;
  EXPECT_EQ(stat((root_ + "/x/file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_NE(stat((dir_ + "/x").c_str(), &st), 0);
}

TEST_F(SecurePathTest, RelativeSymlinkUpwardsIsClamped) {
  ASSERT_EQ(symlink("../../../..", (root_ + "/up").c_str()), 0);
  int fd = EnsureMountTargetInRoot(LinuxSys(), root_fd_.get(), "/up/etc", false);
  ASSERT_GE(fd, 0);
  // /up resolves to the root itself, so /up/etc is <root>/etc.
  struct stat a, b;
  ASSERT_EQ(fstat(fd, &a), 0);
  ASSERT_EQ(stat((root_ + "/etc").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  close(fd);
}

TEST_F(SecurePathTest, NoSymlinksRejectsSymlinkedTarget) {
  ASSERT_EQ(symlink("/etc", (root_ + "/proc").c_str()), 0);
  int fd = EnsureMountTargetInRoot(LinuxSys(), root_fd_.get(), "/proc", false, RESOLVE_NO_SYMLINKS);
  EXPECT_EQ(fd, -ELOOP);
}

TEST_F(SecurePathTest, EnsureFileTargetCreatesParentsAndFile) {
  int fd = EnsureMountTargetInRoot(LinuxSys(), root_fd_.get(), "/a/b/c.conf", true);
  ASSERT_GE(fd, 0);
  close(fd);
  struct stat st;
  ASSERT_EQ(stat((root_ + "/a/b/c.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // Existing target: returned as is.
  fd = EnsureMountTargetInRoot(LinuxSys(), root_fd_.get(), "/a/b/c.conf", true);
  EXPECT_GE(fd, 0);
  close(fd);
}

TEST_F(SecurePathTest, MagicLinksAreRefused) {
  ASSERT_EQ(symlink("/proc/self/root", (root_ + "/magic").c_str()), 0);
  // Resolved inside the root, /proc/self/root does not exist there: ENOENT, never the host's root.
  int fd = OpenInRoot(LinuxSys(), root_fd_.get(), "/magic/etc", O_PATH);
  EXPECT_LT(fd, 0);
}

TEST_F(SecurePathTest, StatusFormNamesThePath) {
  auto fd = OpenInRootDir(root_, "/missing/file", O_RDONLY);
  ASSERT_FALSE(fd.ok());
  EXPECT_TRUE(absl::IsNotFound(fd.status()));
  EXPECT_NE(fd.status().message().find("/missing/file"), std::string::npos);
}

TEST(SecurePathFakeTest, MkdirAllCreatesEachMissingComponent) {
  FakeSys sys;
  sys.AddPath("/r");
  int root = sys.Openat(AT_FDCWD, "/r", O_PATH, 0);
  int fd = MkdirAllInRoot(sys, root, "/a/./b", 0755);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(sys.FdName(fd), "/r/a/b");
  EXPECT_EQ(sys.CallsMatching("mkdirat").size(), 2u) << sys.Dump();
  EXPECT_TRUE(sys.HasPath("/r/a/b"));
}

}  // namespace
}  // namespace cricket::sys
