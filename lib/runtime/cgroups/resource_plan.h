// linux.resources → the cgroupfs writes that apply them, as data (planned first, applied in one place).
//
// Planning reads what it needs to decide (which weight file the I/O scheduler offers, the current
// devices.list, memory.current for checkBeforeUpdate, the leaf's enabled v2 controllers) and validates
// every value, so a request the host cannot honour fails before anything is written, with an error
// naming the resource and the controller. Applying writes in plan order.
//
// Controller placement follows Layout::HierarchyFor: v1 hierarchies first; in hybrid mode the
// unified hierarchy serves what v1 lacks (hugetlb on hosts like this one). Per-resource files:
//   memory   v1 memory.limit_in_bytes / memsw.limit_in_bytes (swap = memory+swap) / soft_limit_in_bytes /
//            swappiness / oom_control / kmem.tcp.limit_in_bytes / use_hierarchy
//            v2 memory.max / memory.swap.max (= swap - limit) / memory.low
//   cpu      v1 cpu.shares, cfs_period_us + cfs_quota_us, cfs_burst_us, rt_period_us + rt_runtime_us, idle
//            v2 cpu.weight (from shares: 1 + (shares - 2) * 9999 / 262142), cpu.max, cpu.max.burst, cpu.idle
//   cpuset   cpuset.cpus, cpuset.mems (both versions)
//   pids     pids.max
//   blockIO  v1 blkio.weight or blkio.bfq.weight, *_device, blkio.throttle.*
//            v2 io.bfq.weight (10..1000 as given) or io.weight (1 + (w - 10) * 9999 / 990), io.max
//   hugetlb  v1 hugetlb.<size>.limit_in_bytes; v2 hugetlb.<size>.max (and .rsvd.max when present)
//   network  v1 net_cls.classid, net_prio.ifpriomap; not on v2
//   rdma     rdma.max
//   devices  v1 devices.allow/deny (V1DeviceWrites); v2 an eBPF program (device_filter.h)
//   unified  v2 files by name, last
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/oci/spec.h"
#include "lib/runtime/cgroups/device_filter.h"
#include "lib/runtime/cgroups/device_rules.h"
#include "lib/runtime/cgroups/layout.h"

namespace cricket::cgroups {

// One cgroup's directory in one hierarchy.
struct CgroupDir {
  Hierarchy hierarchy;
  std::string dir;
};

// The entry serving `controller` (v1 first, then the unified one if it lists it), or nullptr.
const CgroupDir* FindDir(const std::vector<CgroupDir>& dirs, std::string_view controller);
// The unified hierarchy's entry, or nullptr.
const CgroupDir* FindUnified(const std::vector<CgroupDir>& dirs);

struct CgroupWrite {
  std::string dir;
  std::string file;
  std::string value;
  // For two limits the kernel checks against each other (memory vs memory+swap, CFS period vs quota,
  // RT period vs runtime): when set, the pair is written after `file`, and if the first write fails with
  // EINVAL the two are written in the other order.
  std::string pair_file;
  std::string pair_value;
  bool operator==(const CgroupWrite&) const = default;
};

struct DeviceProgram {
  std::string dir;
  std::vector<DeviceRule> rules;
};

struct ResourcePlan {
  std::vector<CgroupWrite> writes;
  std::optional<DeviceProgram> device_program;  // v2 only; installed after the writes
};

struct PlanOptions {
  // An update of a live cgroup (runtime `update`): memory.checkBeforeUpdate is honoured.
  bool update = false;
};

absl::StatusOr<ResourcePlan> PlanResources(const std::vector<CgroupDir>& dirs, const oci::LinuxResources& r,
                                           const PlanOptions& options = {});

absl::Status ApplyPlan(const ResourcePlan& plan, const DeviceFilterInstaller& installer);

// The linear conversions used for cgroup v2 (documented by crun and runc).
uint64_t CpuSharesToWeight(uint64_t shares);      // 2..262144 → 1..10000; 0 → 0 (unset)
uint64_t BlkioWeightToIoWeight(uint64_t weight);  // 10..1000 → 1..10000

}  // namespace cricket::cgroups
