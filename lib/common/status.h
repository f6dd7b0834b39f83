// Status helpers shared by every cricket library: propagation macros and errno-carrying errors.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CRICKET_STATUS_CONCAT_INNER(a, b) a##b
#define CRICKET_STATUS_CONCAT(a, b) CRICKET_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                  \
  do {                                                         \
    ::absl::Status cricket_status_tmp_ = (expr);               \
    if (!cricket_status_tmp_.ok()) return cricket_status_tmp_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F());` declares/assigns x from an absl::StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  CRICKET_ASSIGN_OR_RETURN_IMPL(CRICKET_STATUS_CONCAT(cricket_statusor_, __LINE__), lhs, rexpr)
#define CRICKET_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

namespace cricket {

// An error for a failed system call: "<verb> <object>: <ERRNAME> (<description>)", with a status code
// derived from the errno (ENOENT → NotFound, EEXIST → AlreadyExists, EPERM/EACCES → PermissionDenied,
// EINVAL → InvalidArgument, EBUSY → FailedPrecondition, ENOSPC/EDQUOT/EMFILE/ENFILE/ENOMEM →
// ResourceExhausted, anything else → Internal).
absl::Status ErrnoError(int err, std::string_view verb, std::string_view object);
// Same, reading the current errno.
absl::Status ErrnoError(std::string_view verb, std::string_view object);

// The symbolic name of an errno value ("ENOENT"), or its number when unknown.
std::string ErrnoName(int err);

// Prefixes the message of a non-OK status with context, keeping its code and payloads:
// "prefix: message".
absl::Status Annotate(const absl::Status& status, std::string_view prefix);

}  // namespace cricket
