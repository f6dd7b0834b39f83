// The credentials a process really runs with, from /proc/<pid>/status (proc(5): "Uid:", "Gid:" with
// the real, effective, saved and filesystem ids, "Groups:" with the supplementary groups). The ids are
// as the reader's user namespace sees them: the host's for cricketd.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/sys/pidfd.h"

namespace cricket::sys {

struct ProcessCredentials {
  uint32_t uid = 0;  // effective
  uint32_t gid = 0;  // effective
  std::vector<uint32_t> groups;
  bool operator==(const ProcessCredentials&) const = default;
};

// Parses the text of a status file; nullopt when the Uid, Gid or Groups line is missing or malformed.
std::optional<ProcessCredentials> ParseProcessCredentials(std::string_view status);

// Reads them for the process `id` (checked against its start time before and after the read, so a
// reused pid is NotFound rather than another process's credentials).
absl::StatusOr<ProcessCredentials> ReadProcessCredentials(const ProcessIdentity& id);

}  // namespace cricket::sys
