#include "lib/sys/mountinfo.h"

#include <gtest/gtest.h>

namespace cricket::sys {
namespace {

TEST(MountInfoTest, ParsesFieldsOptionalFieldsAndEscapes) {
  auto m = ParseMountInfo(
      "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
      "40 36 0:5 / /proc rw,nosuid shared:7 master:3 - proc proc rw\n"
      "41 36 0:6 / /sys rw - sysfs sysfs rw\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].mount_point, "/mnt 2");
  EXPECT_EQ((*m)[0].root, "/mnt1");
  EXPECT_EQ((*m)[0].fstype, "ext3");
  EXPECT_TRUE((*m)[0].HasOption("noatime"));
  EXPECT_TRUE((*m)[0].HasSuperOption("errors=continue"));
  EXPECT_EQ((*m)[0].Propagation(), "slave");
  EXPECT_EQ((*m)[1].Propagation(), "shared");
  EXPECT_EQ((*m)[2].Propagation(), "private");
  EXPECT_EQ((*m)[1].parent_id, 36);
}

TEST(MountInfoTest, RejectsMalformedLines) {
  auto m = ParseMountInfo("36 35 98:0 /mnt1\n");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("line 1"), std::string::npos);
}

TEST(MountInfoTest, ReadsOwnMountsIncludingRoot) {
  auto m = ReadMountInfo();
  ASSERT_TRUE(m.ok()) << m.status();
  bool has_root = false;
  for (const auto& e : *m) has_root |= e.mount_point == "/";
  EXPECT_TRUE(has_root);
  auto under = MountsUnder("/proc");
  ASSERT_TRUE(under.ok());
  ASSERT_FALSE(under->empty());
  EXPECT_EQ(under->back(), "/proc");  // deepest first, /proc itself last
}

}  // namespace
}  // namespace cricket::sys
