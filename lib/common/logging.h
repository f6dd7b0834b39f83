// Structured logging: one line per event, logfmt style, written to stderr (journald under systemd):
//   time=2026-11-28T03:44:00.123456789Z level=info component=server msg="listening" socket=/run/x.sock
// Never pass credentials (passwords, tokens, auth headers) as fields.
#pragma once

#include <concepts>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace cricket::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kFatal };

// Accepts trace, debug, info, warn, warning, error, fatal, panic (CRI-O's log_level values).
absl::StatusOr<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);

void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);

// Replaces the output (stderr by default); each call receives one complete line with its newline.
// Passing nullptr restores stderr. Used by tests.
void SetSink(std::function<void(std::string_view)> sink);

// One key=value pair of a log line.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <std::integral T>
  Field(std::string_view k, T v) : key(k), value(absl::StrCat(v)) {}
  Field(std::string_view k, double v) : key(k), value(absl::StrCat(v)) {}
  Field(std::string_view k, const absl::Status& s) : key(k), value(s.ToString()) {}

  std::string_view key;
  std::string value;
};

// Formats one line (without writing it). Exposed for tests.
std::string FormatLine(Level level, std::string_view component, std::string_view msg,
                       std::initializer_list<Field> fields);

void Write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields = {});

inline void Debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, c, m, f);
}
inline void Info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, c, m, f);
}
inline void Warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, c, m, f);
}
inline void Error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, c, m, f);
}

}  // namespace cricket::log
