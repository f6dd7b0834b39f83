#include "lib/common/time_util.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <string>
#include <vector>

namespace cricket {
namespace {

TEST(Rfc3339, FormatsNineDigitsUtc) {
  EXPECT_EQ(FormatRFC3339Nano(1475713029669794202LL), "2016-10-06T00:17:09.669794202Z");
  EXPECT_EQ(FormatRFC3339Nano(0), "1970-01-01T00:00:00.000000000Z");
}

// The arithmetic formatter against libc's gmtime_r over leap days, century rules and negative times.
TEST(Rfc3339, BufferFormatterAgreesWithGmtime) {
  const int64_t kDay = 86400;
  std::vector<int64_t> seconds = {0,
                                  -1,
                                  59,
                                  951782400 /* 2000-02-29 */,
                                  951868800,
                                  4107542400 /* 2100-03-01 */,
                                  -2208988800 /* 1900-01-01 */,
                                  9223372035 /* 2262: int64 ns end */};
  // Every 13th day for 270 years on each side of 1970 (int64 nanoseconds reach about 292 years).
  for (int64_t d = -270 * 365; d < 270 * 365; d += 13) seconds.push_back(d * kDay + d % kDay);
  for (int64_t s : seconds) {
    time_t t = static_cast<time_t>(s);
    struct tm tm;
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char want[64];
    snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.123456789Z", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    char got[kRFC3339NanoMaxSize];
    size_t n = FormatRFC3339NanoTo(s * 1000000000LL + 123456789, got);
    EXPECT_EQ(std::string(got, n), want) << s;
  }
  EXPECT_EQ(FormatRFC3339Nano(-1), "1969-12-31T23:59:59.999999999Z");
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
