// Device access rules (linux.resources.devices) in the two forms the kernel takes them: the v1 devices
// controller's devices.allow/deny lists and the v2 device eBPF program (device_filter.h).
//
// Semantics (runtime-spec config-linux.md#allowed-device-list, "the runtime MUST apply entries in the
// listed order"): the list is applied on top of "deny everything"; for each access bit (r, w, m) of a
// request, the last rule that matches the device and names that bit decides. The v2 program
// implements exactly that. The v1 kernel list has its own merge rules (exceptions keyed by exact
// type:major:minor); for the usual lists (a deny-all or allow-all first, then specific rules) both agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cgroups {

// Access bits, equal to the kernel's BPF_DEVCG_ACC_* values.
inline constexpr uint8_t kAccessMknod = 1;
inline constexpr uint8_t kAccessRead = 2;
inline constexpr uint8_t kAccessWrite = 4;
inline constexpr uint8_t kAccessAll = 7;

struct DeviceRule {
  bool allow = false;
  char type = 'a';     // 'a' (any), 'c' (char), 'b' (block)
  int64_t major = -1;  // -1: any
  int64_t minor = -1;  // -1: any
  uint8_t access = kAccessAll;
  bool operator==(const DeviceRule&) const = default;
};

// Builds and validates a rule from the spec's fields: type "" means 'a', access "" means "rwm", an
// unset (nullopt) major/minor means any. InvalidArgument naming the bad field otherwise.
absl::StatusOr<DeviceRule> MakeDeviceRule(bool allow, std::string_view type, std::optional<int64_t> major,
                                          std::optional<int64_t> minor, std::string_view access);

// "rwm" ↔ access bits.
absl::StatusOr<uint8_t> ParseDeviceAccess(std::string_view access);
std::string DeviceAccessString(uint8_t access);

// The reference decision for a request against an ordered rule list (see the header comment):
// `type` is 'c' or 'b'; `access` one or more bits.
bool DeviceAccessAllowed(const std::vector<DeviceRule>& rules, char type, uint32_t major, uint32_t minor,
                         uint8_t access);

// What the v1 devices controller holds: a default and exceptions keyed by type:major:minor.
struct V1DeviceState {
  bool default_allow = true;
  std::vector<DeviceRule> exceptions;  // type 'c' or 'b'; allow == !default_allow
  bool operator==(const V1DeviceState&) const = default;
};

// The state the kernel reaches when `rules` are written in order after resetting to deny-all. A rule
// of type 'a' naming a device or a subset of access becomes a 'c' and a 'b' exception (the kernel
// reads any "a ..." line as the full reset).
V1DeviceState V1StateFor(const std::vector<DeviceRule>& rules);

// Parses devices.list. In default-allow mode the kernel prints only "a *:* rwm" and hides the deny
// exceptions, so a parsed default-allow state has none (see V1DeviceWrites).
absl::StatusOr<V1DeviceState> ParseV1DevicesList(std::string_view text);

// The "c 1:3 rwm" form for devices.allow/deny; "a" for a full reset.
std::string V1DeviceLine(const DeviceRule& rule);

// (file, line) writes taking the kernel from `current` (parsed devices.list) to `target`. When both are
// default-deny the difference is written (deny removals first, so no moment is more permissive than
// either state); otherwise the list is reset with "a" and rebuilt.
std::vector<std::pair<std::string, std::string>> V1DeviceWrites(const V1DeviceState& current,
                                                                const V1DeviceState& target);

}  // namespace cricket::cgroups
