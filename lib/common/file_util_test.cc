#include "lib/common/file_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace cricket {
namespace {

class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-fileutil-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  std::string dir_;
};

TEST_F(FileUtilTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  std::string p = dir_ + "/state.json";
  ASSERT_TRUE(WriteFileAtomic(p, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "two", 0600).ok());
  EXPECT_EQ(*ReadFile(p), "two");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ListDir(dir_)->size(), 1u);
}

TEST_F(FileUtilTest, ReplacingWriteReplacesAndLeavesNoTemporary) {
  std::string p = dir_ + "/hosts";
  ASSERT_TRUE(WriteFileReplacing(p, "one", 0644).ok());
  ASSERT_TRUE(WriteFileReplacing(p, "two", 0600).ok());
  EXPECT_EQ(*ReadFile(p), "two");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ListDir(dir_)->size(), 1u);
  EXPECT_FALSE(WriteFileReplacing(dir_ + "/missing/f", "x").ok());
}

TEST_F(FileUtilTest, ReadFileErrorsNameThePathAndRespectLimit) {
  auto missing = ReadFile(dir_ + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_NE(missing.status().message().find(dir_ + "/nope"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/big", std::string(100, 'x')).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(ReadFile(dir_ + "/big", 10).status()));
}

// One write into an existing file, as a kernel setting takes it: nothing created; errors name the value
// and the file.
TEST_F(FileUtilTest, WriteKernelFileWritesOnceIntoAnExistingFile) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/setting", "old value\n").ok());
  ASSERT_TRUE(WriteKernelFile(dir_ + "/setting", "new").ok());
  EXPECT_EQ(ReadFile(dir_ + "/setting").value_or(""), "new");
  absl::Status missing = WriteKernelFile(dir_ + "/nope", "1\n");
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_NE(missing.message().find("write \"1\" to " + dir_ + "/nope"), std::string::npos) << missing;
  EXPECT_FALSE(PathExists(dir_ + "/nope"));
}

TEST_F(FileUtilTest, MkdirAllAndRemoveAll) {
  ASSERT_TRUE(MkdirAll(dir_ + "/a/b/c").ok());
  ASSERT_TRUE(MkdirAll(dir_ + "/a/b/c").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/a/b/c/f", "x").ok());
  ASSERT_EQ(symlink("/etc", (dir_ + "/a/link").c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir_ + "/a").ok());
  EXPECT_FALSE(PathExists(dir_ + "/a"));
  EXPECT_TRUE(PathExists("/etc/hostname") || PathExists("/etc/passwd"));  // the symlink was not followed
  EXPECT_TRUE(RemoveAll(dir_ + "/missing").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/file", "x").ok());
  EXPECT_FALSE(MkdirAll(dir_ + "/file/sub").ok());
}

TEST_F(FileUtilTest, RemoveAllAtRemovesTreesAndSymlinksRelativeToADirectory) {
  ASSERT_TRUE(MkdirAll(dir_ + "/d/sub").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/d/sub/f", "x").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/keep", "x").ok());
  ASSERT_EQ(symlink(dir_.c_str(), (dir_ + "/link").c_str()), 0);
  int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(RemoveAllAt(fd, "d").ok());
  EXPECT_TRUE(RemoveAllAt(fd, "link").ok());
  EXPECT_TRUE(RemoveAllAt(fd, "missing").ok());
  close(fd);
  EXPECT_FALSE(PathExists(dir_ + "/d"));
  EXPECT_FALSE(PathExists(dir_ + "/link"));
  EXPECT_TRUE(PathExists(dir_ + "/keep"));  // the symlink to the parent was not followed
}

}  // namespace
}  // namespace cricket
