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

std::string FormatRFC3339Nano(int64_t unix_nanos) {
  time_t secs = static_cast<time_t>(unix_nanos / 1000000000LL);
  long nanos = static_cast<long>(unix_nanos % 1000000000LL);
  if (nanos < 0) {
    nanos += 1000000000L;
    --secs;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
  return buf;
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
