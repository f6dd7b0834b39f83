#include "lib/sys/proc_status.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace cricket::sys {
namespace {

TEST(ProcStatusTest, ParsesEffectiveIdsAndGroups) {
  auto c = ParseProcessCredentials(
      "Name:\tsh\nUmask:\t0022\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\n"
      "FDSize:\t64\nGroups:\t1000 1234 50000 \nNStgid:\t7\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->uid, 1001u);
  EXPECT_EQ(c->gid, 51u);
  EXPECT_EQ(c->groups, (std::vector<uint32_t>{1000, 1234, 50000}));
  auto none = ParseProcessCredentials("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->groups.empty());
}

TEST(ProcStatusTest, MalformedOrMissingLinesAreRefused) {
  EXPECT_FALSE(ParseProcessCredentials("Uid:\t0\t0\t0\t0\nGroups:\t\n").has_value());
  EXPECT_FALSE(ParseProcessCredentials("Uid:\tx\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n").has_value());
  EXPECT_FALSE(ParseProcessCredentials("Uid:\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n").has_value());
  // "Uidx:" is another key.
  EXPECT_FALSE(ParseProcessCredentials("Uidx:\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n").has_value());
}

TEST(ProcStatusTest, ReadsTheCallersOwnAndRefusesAnotherIdentity) {
  auto self = IdentifyProcess(getpid());
  ASSERT_TRUE(self.ok());
  auto c = ReadProcessCredentials(*self);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->uid, geteuid());
  EXPECT_EQ(c->gid, getegid());
  ProcessIdentity reused = *self;
  reused.start_time += 1;
  EXPECT_TRUE(absl::IsNotFound(ReadProcessCredentials(reused).status()));
}

}  // namespace
}  // namespace cricket::sys
