// Privileged: needs root to clone mount trees, make idmapped mounts and mount tmpfs.
#include "lib/sys/mount_tree.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/sys/clone.h"

namespace cricket::sys {
namespace {

class MountTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/cricket-mounttree-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (dir_.empty()) return;
    for (const std::string& m : mounted_) umount2(m.c_str(), MNT_DETACH);
    EXPECT_TRUE(RemoveAll(dir_).ok());
    auto info = ReadFile("/proc/self/mountinfo");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->find(dir_), std::string::npos) << "a mount was left under " << dir_;
  }
  // Attaches `tree` at `target` (an existing directory).
  void Attach(int tree, const std::string& target) {
    ASSERT_EQ(syscall(SYS_move_mount, tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH), 0)
        << strerror(errno);
    mounted_.insert(mounted_.begin(), target);
  }
  std::string dir_;
  std::vector<std::string> mounted_;  // innermost first
};

TEST_F(MountTreeTest, IdmappedCloneShowsMappedOwnersAndChangesNothingOnDisk) {
  std::string src = dir_ + "/src", dst = dir_ + "/dst";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dst.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(src + "/file", "x", 0644).ok());
  auto tree = CloneMountTree(AT_FDCWD, src, false);
  ASSERT_TRUE(tree.ok()) << tree.status();
  auto userns = MakeUserNamespace({{0, 300000, 65536}}, {{0, 300000, 65536}});
  ASSERT_TRUE(userns.ok()) << userns.status();
  ASSERT_TRUE(SetMountTreeAttributes(tree->get(), 0, 0, userns->get(), false, src).ok());
  Attach(tree->get(), dst);
  struct stat st;
  ASSERT_EQ(stat((dst + "/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 300000u);
  EXPECT_EQ(st.st_gid, 300000u);
  ASSERT_EQ(stat((src + "/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the file on disk keeps its owner";
  // Idmapping a tree twice, or one already attached, is refused by the kernel.
  absl::Status again = SetMountTreeAttributes(tree->get(), 0, 0, userns->get(), false, src);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("idmapped"), std::string::npos) << again;
}

TEST_F(MountTreeTest, RecursiveReadOnlyReachesSubmounts) {
  std::string src = dir_ + "/src", sub = dir_ + "/src/sub", dst = dir_ + "/dst";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dst.c_str(), 0755), 0);
  ASSERT_EQ(mount("tmpfs", sub.c_str(), "tmpfs", 0, "size=1m"), 0);
  mounted_.push_back(sub);
  auto tree = CloneMountTree(AT_FDCWD, src, true);
  ASSERT_TRUE(tree.ok()) << tree.status();
  ASSERT_TRUE(SetMountTreeAttributes(tree->get(), MOUNT_ATTR_RDONLY, 0, -1, true, src).ok());
  Attach(tree->get(), dst);
  mounted_.insert(mounted_.begin(), dst + "/sub");
  EXPECT_FALSE(WriteFileAtomic(dst + "/top", "x").ok());
  int fd = open((dst + "/sub/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) close(fd);
  // The source stays writable: only the copy is read-only.
  EXPECT_TRUE(WriteFileAtomic(sub + "/f", "x").ok());
}

TEST_F(MountTreeTest, ClosedTreeLeavesNothingMounted) {
  std::string src = dir_ + "/src";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  {
    auto tree = CloneMountTree(AT_FDCWD, src, true);
    ASSERT_TRUE(tree.ok());
  }
  auto missing = CloneMountTree(AT_FDCWD, dir_ + "/missing", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);
}

TEST_F(MountTreeTest, ProbesSucceedOnThisHost) {
  EXPECT_TRUE(ProbeRecursiveReadOnly(dir_).ok());
  absl::Status idmap = ProbeIdmappedMount(dir_);
  if (!idmap.ok()) GTEST_SKIP() << "no idmapped mounts here: " << idmap;
  EXPECT_FALSE(ProbeIdmappedMount(dir_ + "/missing").ok());
}

}  // namespace
}  // namespace cricket::sys
