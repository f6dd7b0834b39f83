// The cgroup v2 device controller is an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to
// the cgroup (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). cricket assembles the
// program itself from the ordered rule list and loads it with raw bpf(2) calls.
//
// The program walks the rules from last to first keeping the set of requested access bits not yet
// decided: a matching deny rule that names an undecided bit denies; a matching allow rule decides the
// bits it names and allows once none is left; running off the start denies. That is the per-bit
// last-match-wins semantics of DeviceAccessAllowed() (device_rules.h).
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/runtime/cgroups/device_rules.h"

namespace cricket::cgroups {

// The program for `rules` (at most a few instructions per rule).
std::vector<bpf_insn> BuildDeviceFilterProgram(const std::vector<DeviceRule>& rules);

// Installs a device program on a v2 cgroup directory. An interface so that tests on a fake cgroupfs
// tree can record instead of calling bpf(2).
class DeviceFilterInstaller {
 public:
  virtual ~DeviceFilterInstaller() = default;
  virtual absl::Status Install(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules) const = 0;
};

// The real one: loads the program, attaches it with BPF_F_ALLOW_MULTI and then detaches the device
// programs that were attached to that cgroup before (so there is no moment without a filter; while both
// are attached both must allow). If the cgroup holds a program attached without ALLOW_MULTI, the new
// one is attached with the same flags, which replaces it.
class BpfDeviceFilterInstaller final : public DeviceFilterInstaller {
 public:
  absl::Status Install(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules) const override;
};

// The ids of the device programs attached directly to `cgroup_dir` (BPF_PROG_QUERY).
absl::StatusOr<std::vector<uint32_t>> QueryDevicePrograms(const std::string& cgroup_dir);

}  // namespace cricket::cgroups
