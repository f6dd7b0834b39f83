#include "lib/common/time_util.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>

#include "lib/common/strings.h"

namespace cricket {
namespace {
int64_t ClockNanos(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
}  // namespace

int64_t RealtimeNow() { return ClockNanos(CLOCK_REALTIME); }
int64_t MonotonicNow() { return ClockNanos(CLOCK_MONOTONIC); }

namespace {

// Writes `v` as exactly `width` decimal digits, most significant first.
char* PutDigits(char* p, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

}  // namespace

size_t FormatRFC3339NanoTo(int64_t unix_nanos, char* out) {
  int64_t secs = unix_nanos / 1000000000LL;
  int64_t nanos = unix_nanos % 1000000000LL;
  if (nanos < 0) {
    nanos += 1000000000LL;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  // Gregorian date from days since 1970-01-01, counting in 400-year eras that start on March 1st
  // (so that the leap day is the last day of a "year").
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;                                       // [0, 146096]
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11], March = 0
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char* p = out;
  if (year < 0) *p++ = '-';
  uint64_t y = static_cast<uint64_t>(year < 0 ? -year : year);
  int width = 4;
  for (uint64_t t = y / 10000; t > 0; t /= 10) ++width;
  p = PutDigits(p, y, width);
  *p++ = '-';
  p = PutDigits(p, static_cast<uint64_t>(month), 2);
  *p++ = '-';
  p = PutDigits(p, static_cast<uint64_t>(day), 2);
  *p++ = 'T';
  p = PutDigits(p, static_cast<uint64_t>(sod / 3600), 2);
  *p++ = ':';
  p = PutDigits(p, static_cast<uint64_t>(sod / 60 % 60), 2);
  *p++ = ':';
  p = PutDigits(p, static_cast<uint64_t>(sod % 60), 2);
  *p++ = '.';
  p = PutDigits(p, static_cast<uint64_t>(nanos), 9);
  *p++ = 'Z';
  return static_cast<size_t>(p - out);
}

std::string FormatRFC3339Nano(int64_t unix_nanos) {
  char buf[kRFC3339NanoMaxSize];
  return std::string(buf, FormatRFC3339NanoTo(unix_nanos, buf));
}

absl::StatusOr<int64_t> ParseRFC3339(const std::string& text) {
  struct tm tm = {};
  const char* p = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == nullptr) return absl::InvalidArgumentError(StrCat("not an RFC 3339 time: \"", text, "\""));
  int64_t nanos = 0;
  if (*p == '.') {
    ++p;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (*p - '0');
        ++digits;
      }
      ++p;
    }
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) {
      return absl::InvalidArgumentError(StrCat("bad zone offset in time \"", text, "\""));
    }
    offset = sign * (hh * 3600 + mm * 60);
    p += 6;
  } else {
    return absl::InvalidArgumentError(StrCat("time without zone: \"", text, "\""));
  }
  if (*p != '\0') return absl::InvalidArgumentError(StrCat("trailing text in time \"", text, "\""));
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  return secs * 1000000000LL + nanos;
}

}  // namespace cricket
