// Time helpers. Timestamps are int64 nanoseconds since the Unix epoch, as CRI carries them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace cricket {

// CLOCK_REALTIME in nanoseconds.
int64_t RealtimeNow();
// CLOCK_MONOTONIC in nanoseconds (for timeouts and durations).
int64_t MonotonicNow();

// RFC 3339 in UTC with nine fractional digits, e.g. 2016-10-06T00:17:09.669794202Z. Go's
// time.RFC3339Nano parser (used by kubelet and critest for CRI logs) accepts it.
std::string FormatRFC3339Nano(int64_t unix_nanos);

// The same text written to `out`, which must hold kRFC3339NanoMaxSize bytes (no NUL is added); returns
// its length (30 for the years 0000-9999). Pure arithmetic: no allocation and none of libc's time zone
// or stdio code, for writers that stamp every record (cricket-conmon's container log).
inline constexpr size_t kRFC3339NanoMaxSize = 48;
size_t FormatRFC3339NanoTo(int64_t unix_nanos, char* out);

// Parses RFC 3339 with optional fraction and a Z or ±hh:mm offset.
absl::StatusOr<int64_t> ParseRFC3339(const std::string& text);

}  // namespace cricket
