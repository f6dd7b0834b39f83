// Time helpers. Timestamps are int64 nanoseconds since the Unix epoch, as CRI carries them.
#pragma once

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

// Parses RFC 3339 with optional fraction and a Z or ±hh:mm offset.
absl::StatusOr<int64_t> ParseRFC3339(const std::string& text);

}  // namespace cricket
