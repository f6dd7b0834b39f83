#include "lib/common/path_util.h"

#include <gtest/gtest.h>

namespace cricket {
namespace {

TEST(CleanPath, CollapsesLikeGo) {
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("/"), "/");
  EXPECT_EQ(CleanPath("//a//b/./c/"), "/a/b/c");
  EXPECT_EQ(CleanPath("/a/b/../../.."), "/");
  EXPECT_EQ(CleanPath("a/../.."), "..");
  EXPECT_EQ(CleanPath("a/./b/.."), "a");
}

TEST(LexicalJoinInRoot, NeverLeavesRoot) {
  EXPECT_EQ(LexicalJoinInRoot("/root", "../../etc/passwd"), "/root/etc/passwd");
  EXPECT_EQ(LexicalJoinInRoot("/root", "/abs/x"), "/root/abs/x");
  EXPECT_EQ(LexicalJoinInRoot("/root", ".."), "/root");
  EXPECT_EQ(LexicalJoinInRoot("/root/", "a/../b"), "/root/b");
}

TEST(DirBase, Split) {
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("a"), ".");
  EXPECT_EQ(BaseName("/a/b/c/"), "c");
  EXPECT_EQ(BaseName("/"), "/");
  EXPECT_EQ(JoinPath("/a", "b/../c"), "/a/c");
}

}  // namespace
}  // namespace cricket
