#include "lib/sys/fake_sys.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace cricket::sys {
namespace {

TEST(FakeSysTest, RecordsMountsWithFdPathsAndFlags) {
  FakeSys sys;
  sys.AddPath("/rootfs/proc");
  int fd = sys.Openat(AT_FDCWD, "/rootfs/proc", O_PATH, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(sys.Mount("proc", FdPath(fd).c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""), 0);
  EXPECT_EQ(sys.calls().back(),
            "mount(\"proc\", </rootfs/proc>, \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, \"\")");
}

TEST(FakeSysTest, InjectedFailuresAndMissingPaths) {
  FakeSys sys;
  sys.FailOn("sethostname", EPERM);
  EXPECT_EQ(sys.Sethostname("x", 1), -EPERM);
  EXPECT_EQ(sys.Openat(AT_FDCWD, "/nope", O_RDONLY, 0), -ENOENT);
  EXPECT_EQ(sys.Mkdirat(AT_FDCWD, "/d", 0755), 0);
  EXPECT_EQ(sys.Mkdirat(AT_FDCWD, "/d", 0755), -EEXIST);
  EXPECT_EQ(sys.IndexOf("sethostname"), 0);
}

TEST(FakeSysTest, FdPathFormatsWithoutAllocation) {
  EXPECT_STREQ(FdPath(0).c_str(), "/proc/self/fd/0");
  EXPECT_STREQ(FdPath(1234567).c_str(), "/proc/self/fd/1234567");
  char buf[8] = "";
  SafeAppend(buf, sizeof(buf), "abcdefghij");
  EXPECT_STREQ(buf, "abcdefg");
  buf[0] = '\0';
  SafeAppendInt(buf, sizeof(buf), -42);
  EXPECT_STREQ(buf, "-42");
}

}  // namespace
}  // namespace cricket::sys
