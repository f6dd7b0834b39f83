#include "lib/common/time_util.h"

#include <gtest/gtest.h>

namespace cricket {
namespace {

TEST(Rfc3339, FormatsNineDigitsUtc) {
  EXPECT_EQ(FormatRFC3339Nano(1475713029669794202LL), "2016-10-06T00:17:09.669794202Z");
  EXPECT_EQ(FormatRFC3339Nano(0), "1970-01-01T00:00:00.000000000Z");
}

TEST(Rfc3339, ParsesWhatItFormatsAndOffsets) {
  auto t = ParseRFC3339("2016-10-06T00:17:09.669794202Z");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 1475713029669794202LL);
  auto off = ParseRFC3339("2016-10-06T02:17:09.5+02:00");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(*off, 1475713029500000000LL);
  EXPECT_FALSE(ParseRFC3339("2016-10-06 00:17:09").ok());
  EXPECT_FALSE(ParseRFC3339("2016-10-06T00:17:09").ok());
  EXPECT_FALSE(ParseRFC3339("2016-10-06T00:17:09Zjunk").ok());
}

TEST(Clock, MonotonicAdvances) {
  int64_t a = MonotonicNow();
  int64_t b = MonotonicNow();
  EXPECT_LE(a, b);
  EXPECT_GT(RealtimeNow(), 1600000000LL * 1000000000LL);
}

}  // namespace
}  // namespace cricket
