#include "lib/sys/disk_usage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"

namespace cricket::sys {
namespace {

TEST(DirectoryUsage, CountsInodesOnceAndBytes) {
  char tmpl[] = "/tmp/cricket-du-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(MkdirAll(dir + "/sub").ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/sub/f", std::string(100000, 'x')).ok());
  ASSERT_EQ(link((dir + "/sub/f").c_str(), (dir + "/hard").c_str()), 0);
  ASSERT_EQ(symlink("/etc", (dir + "/link").c_str()), 0);
  auto u = DirectoryUsage(dir);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->inodes, 4u);  // root, sub, f (= hard), link
  EXPECT_GE(u->bytes, 100000u);
  EXPECT_LT(u->bytes, 1000000u);  // /etc behind the symlink was not walked
  auto missing = DirectoryUsage(dir + "/none");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->inodes, 0u);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

}  // namespace
}  // namespace cricket::sys
