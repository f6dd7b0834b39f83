// Linux capability names and numbers (capabilities(7)), and the set of capabilities this host can
// grant to a container.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::oci {

// The highest capability number cricket knows by name (CAP_CHECKPOINT_RESTORE, Linux 5.9).
inline constexpr int kLastKnownCap = 40;

// "CAP_CHOWN" for 0, ...; "" for numbers above kLastKnownCap or negative.
std::string_view CapabilityName(int cap);
// Accepts "CAP_CHOWN", "chown", "Cap_Chown" (the CAP_ prefix is optional and case is ignored, as in
// CRI's add/drop lists). nullopt for names that are not known.
std::optional<int> CapabilityNumber(std::string_view name);
// The canonical "CAP_X" spelling of `name`, or InvalidArgument "unknown capability \"X\"".
absl::StatusOr<std::string> CanonicalCapabilityName(std::string_view name);
// Canonicalises a list, keeping its order and dropping duplicates. The special entry "ALL" (any case,
// as CRI's capabilities.add_capabilities allows) expands to `all`.
absl::StatusOr<std::vector<std::string>> CanonicalCapabilityNames(const std::vector<std::string>& names,
                                                                  const std::vector<std::string>& all);

// The capability sets of a process, as bit masks (bit n = capability n), from /proc/<pid>/status.
struct ProcessCapSets {
  uint64_t inheritable = 0;
  uint64_t permitted = 0;
  uint64_t effective = 0;
  uint64_t bounding = 0;
  uint64_t ambient = 0;
};
// Parses the CapInh/CapPrm/CapEff/CapBnd/CapAmb lines of a /proc/<pid>/status text; a line that is
// missing or malformed is an InvalidArgument error.
absl::StatusOr<ProcessCapSets> ParseProcStatusCaps(std::string_view status_text);

// The kernel's last capability number, from /proc/sys/kernel/cap_last_cap (`path` for tests).
absl::StatusOr<int> ReadLastCap(const std::string& path = "/proc/sys/kernel/cap_last_cap");

// Names of the capabilities a process with `sets` can hand to a child: numbers 0..last_cap that are
// both in its bounding set and its permitted set, in number order. Capabilities the kernel has beyond
// kLastKnownCap have no name here and are left out.
std::vector<std::string> GrantableCapabilities(int last_cap, const ProcessCapSets& sets);

// GrantableCapabilities for this process on this host: what a privileged container gets. Not a fixed
// list: a host whose root lacks a capability (e.g. CAP_SYS_RESOURCE in a restricted VM) cannot grant
// it, and a newer kernel may offer more.
absl::StatusOr<std::vector<std::string>> HostGrantableCapabilities();

}  // namespace cricket::oci
