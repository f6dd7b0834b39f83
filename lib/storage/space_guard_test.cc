#include "lib/storage/space_guard.h"

#include <gtest/gtest.h>

namespace cricket::storage {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(FreeSpaceReserveTest, ParsesBytesUnitsAndPercentages) {
  EXPECT_EQ(ParseFreeSpaceReserve("0")->bytes, 0u);
  EXPECT_FALSE(ParseFreeSpaceReserve("0")->enabled());
  EXPECT_EQ(ParseFreeSpaceReserve("134217728")->bytes, 128 * kMiB);
  EXPECT_EQ(ParseFreeSpaceReserve("128MiB")->bytes, 128 * kMiB);
  EXPECT_EQ(ParseFreeSpaceReserve(" 1.5 GiB ")->bytes, 1536 * kMiB);
  EXPECT_EQ(ParseFreeSpaceReserve("10G")->bytes, 10'000'000'000u);
  EXPECT_EQ(ParseFreeSpaceReserve("2kb")->bytes, 2000u);
  auto pct = ParseFreeSpaceReserve("5%");
  ASSERT_TRUE(pct.ok());
  EXPECT_DOUBLE_EQ(pct->fraction, 0.05);
  EXPECT_EQ(pct->For(1000 * kMiB), 50 * kMiB);
  EXPECT_EQ(pct->Describe(1000 * kMiB), "5% (50 MiB)");
  for (const char* bad : {"", "x", "5 parsecs", "-1", "101%", "1e30"}) {
    EXPECT_FALSE(ParseFreeSpaceReserve(bad).ok()) << bad;
  }
}

TEST(FreeSpaceReserveTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(17), "17 bytes");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(128 * kMiB), "128 MiB");
}

struct FakeFs {
  uint64_t size = 1000 * kMiB;
  uint64_t available = 300 * kMiB;
  int64_t now = 1;
  int stats = 0;
  SpaceGuard Guard() {
    return SpaceGuard(
        "/var/lib/cricket/storage",
        [this]() -> absl::StatusOr<SpaceGuard::FsSpace> {
          ++stats;
          return SpaceGuard::FsSpace{size, available};
        },
        [this] { return now; });
  }
};

TEST(SpaceGuardTest, AdmitsWhileTheReserveStaysFreeAndNamesTheStore) {
  FakeFs fs;
  SpaceGuard guard = fs.Guard();
  FreeSpaceReserve reserve{.bytes = 200 * kMiB};
  EXPECT_TRUE(guard.Claim(60 * kMiB, reserve).ok());
  EXPECT_TRUE(guard.Claim(40 * kMiB, reserve).ok());  // exactly down to the reserve
  EXPECT_EQ(fs.stats, 1);                             // admitted from the first answer
  absl::Status s = guard.Claim(1, reserve);           // the cached answer says no: asked again
  EXPECT_EQ(fs.stats, 2);
  EXPECT_TRUE(s.ok()) << s;  // the fake never filled: the fresh answer admits it
  fs.available = 201 * kMiB;
  fs.now += SpaceGuard::kRefreshNs;
  s = guard.Claim(2 * kMiB, reserve);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  std::string msg(s.message());
  EXPECT_NE(msg.find("/var/lib/cricket/storage"), std::string::npos) << msg;
  EXPECT_NE(msg.find("201 MiB left"), std::string::npos) << msg;
  EXPECT_NE(msg.find("200 MiB must stay free"), std::string::npos) << msg;
  EXPECT_NE(msg.find("min_free_space"), std::string::npos) << msg;
  EXPECT_TRUE(guard.Claim(kMiB, reserve).ok());
}

TEST(SpaceGuardTest, RefreshesAfterTheIntervalAndRefusesBelowTheReserve) {
  FakeFs fs;
  SpaceGuard guard = fs.Guard();
  FreeSpaceReserve reserve{.fraction = 0.25};  // 250 MiB of 1000
  EXPECT_TRUE(guard.Claim(10 * kMiB, reserve).ok());
  EXPECT_TRUE(guard.Claim(10 * kMiB, reserve).ok());
  EXPECT_EQ(fs.stats, 1);
  fs.now += SpaceGuard::kRefreshNs;
  fs.available = 240 * kMiB;  // someone else wrote meanwhile
  EXPECT_TRUE(absl::IsResourceExhausted(guard.Claim(0, reserve)));
  EXPECT_EQ(fs.stats, 2);
  EXPECT_EQ(*guard.Headroom(reserve), 0u);
  fs.available = 260 * kMiB;
  EXPECT_EQ(*guard.Headroom(reserve), 10 * kMiB);
}

TEST(SpaceGuardTest, NoReserveNeverAsks) {
  FakeFs fs;
  fs.available = 0;
  SpaceGuard guard = fs.Guard();
  EXPECT_TRUE(guard.Claim(uint64_t{1} << 40, FreeSpaceReserve{}).ok());
  EXPECT_EQ(fs.stats, 0);
}

TEST(SpaceGuardTest, StatvfsOfARealDirectory) {
  SpaceGuard guard("/");
  auto room = guard.Headroom(FreeSpaceReserve{.bytes = 1});
  ASSERT_TRUE(room.ok()) << room.status();
  SpaceGuard missing("/nonexistent/store");
  EXPECT_FALSE(missing.Claim(1, FreeSpaceReserve{.bytes = 1}).ok());
}

}  // namespace
}  // namespace cricket::storage
