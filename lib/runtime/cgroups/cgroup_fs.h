// Reading and writing cgroupfs files. The kernel takes each value in one write(2) and reports a bad
// value as the write's errno, so every write here is one open + one write, and errors name the value,
// the file and the errno. The same helpers work on a fake tree of plain files (tests): writes truncate.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cricket::cgroups {

// Writes `value` to `dir`/`file` in a single write(2). The file must exist (cgroupfs creates files,
// never we): a missing file is NotFound naming it.
absl::Status WriteCgroupFile(const std::string& dir, std::string_view file, std::string_view value);

// Reads `dir`/`file` whole.
absl::StatusOr<std::string> ReadCgroupFile(const std::string& dir, std::string_view file);

// Reads `dir`/`file`, trimmed of surrounding whitespace.
absl::StatusOr<std::string> ReadCgroupValue(const std::string& dir, std::string_view file);

// Reads a single unsigned number; "max" is nullopt.
absl::StatusOr<std::optional<uint64_t>> ReadCgroupUint(const std::string& dir, std::string_view file);

bool CgroupFileExists(const std::string& dir, std::string_view file);

// Parses "key value" lines (memory.stat, cpu.stat, memory.events, cgroup.events). Lines whose value is
// not an unsigned number are skipped.
std::map<std::string, uint64_t> ParseFlatKeyed(std::string_view text);

// Parses cgroup.procs / tasks: one pid per line.
absl::StatusOr<std::vector<int>> ParsePidList(std::string_view text, std::string_view what);

// Parses a space-separated controller list (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> ParseControllerList(std::string_view text);

}  // namespace cricket::cgroups
