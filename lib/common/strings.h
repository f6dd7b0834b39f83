// String helpers that accept std::string_view.
//
// Debian 12's abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so
// absl::StrCat, absl::StrSplit and friends do not take a std::string_view. cricket's interfaces use
// std::string_view; these wrappers bridge the two. Call cricket::StrCat / StrAppend rather than the absl
// ones wherever an argument may be a std::string_view.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cricket {

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

namespace strings_internal {
template <class T>
decltype(auto) AbslArg(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return ToAbsl(v);
  } else {
    return (v);
  }
}
}  // namespace strings_internal

template <class... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::AbslArg(args)...);
}

template <class... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::AbslArg(args)...);
}

// Splits on every `sep`; empty pieces are kept ("a,,b" → {"a", "", "b"}; "" → {""}).
std::vector<std::string_view> Split(std::string_view s, char sep);
// Splits on the first `sep` only; nullopt when absent.
std::optional<std::pair<std::string_view, std::string_view>> SplitOnce(std::string_view s, char sep);

std::string_view TrimSpace(std::string_view s);
std::string ToLower(std::string_view s);
std::string ToUpper(std::string_view s);

// Whole-string integer parsing (no sign for unsigned, no spaces, no trailing text).
std::optional<int64_t> ParseInt64(std::string_view s);
std::optional<uint64_t> ParseUint64(std::string_view s);

// Joins with `sep`; works for any range of things convertible to std::string_view.
template <class Range>
std::string Join(const Range& parts, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& p : parts) {
    if (!first) out.append(sep);
    first = false;
    out.append(std::string_view(p));
  }
  return out;
}

}  // namespace cricket
