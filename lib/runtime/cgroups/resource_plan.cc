#include "lib/runtime/cgroups/resource_plan.h"

#include <algorithm>
#include <limits>
#include <map>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"

namespace cricket::cgroups {
namespace {

constexpr std::string_view kLog = "cgroups";

// Runtime-spec memory and CPU values: 0 means "not set" (as runc reads them), negative means unlimited.
std::string V1Limit(int64_t v) { return v < 0 ? "-1" : StrCat(v); }
std::string V2Limit(int64_t v) { return v < 0 ? "max" : StrCat(v); }

bool ValidPageSize(std::string_view s) {
  if (s.size() < 3) return false;
  std::string_view unit = s.substr(s.size() - 2);
  std::string_view num = s.substr(0, s.size() - 2);
  if (unit != "KB" && unit != "MB" && unit != "GB") return false;
  return !num.empty() && std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Dev(int64_t major, int64_t minor) { return StrCat(major, ":", minor); }

class Planner {
 public:
  Planner(const std::vector<CgroupDir>& dirs, const PlanOptions& options, ResourcePlan* plan)
      : dirs_(dirs), options_(options), plan_(plan) {}

  absl::Status Memory(const oci::MemoryResources& m);
  absl::Status Cpu(const oci::CpuResources& c);
  absl::Status Cpuset(const oci::CpuResources& c);
  absl::Status Pids(const oci::PidsResources& p);
  absl::Status BlockIo(const oci::BlockIoResources& b);
  absl::Status Hugetlb(const std::vector<oci::HugepageLimit>& limits);
  absl::Status Network(const oci::NetworkResources& n);
  absl::Status Rdma(const std::map<std::string, oci::RdmaLimit>& rdma);
  absl::Status Devices(const std::vector<oci::DeviceCgroupRule>& rules);
  absl::Status Unified(const std::map<std::string, std::string>& unified);

 private:
  // The directory serving `controller`, checked to be usable: mounted (v1) or enabled in the cgroup's
  // cgroup.controllers (v2). `what` names the resource that needs it.
  absl::StatusOr<const CgroupDir*> Need(std::string_view controller, std::string_view what);
  absl::StatusOr<std::vector<std::string>> EnabledV2(const std::string& dir);
  absl::Status NeedFile(const CgroupDir& d, std::string_view file, std::string_view what);
  void Add(const CgroupDir& d, std::string file, std::string value) {
    plan_->writes.push_back(CgroupWrite{d.dir, std::move(file), std::move(value), "", ""});
  }
  void AddPair(const CgroupDir& d, std::string file, std::string value, std::string pair_file,
               std::string pair_value) {
    plan_->writes.push_back(
        CgroupWrite{d.dir, std::move(file), std::move(value), std::move(pair_file), std::move(pair_value)});
  }
  absl::Status MemoryV1(const CgroupDir& d, const oci::MemoryResources& m);
  absl::Status MemoryV2(const CgroupDir& d, const oci::MemoryResources& m);
  absl::Status CpuV1(const CgroupDir& d, const oci::CpuResources& c);
  absl::Status CpuV2(const CgroupDir& d, const oci::CpuResources& c);
  absl::Status BlkioV1(const CgroupDir& d, const oci::BlockIoResources& b);
  absl::Status IoV2(const CgroupDir& d, const oci::BlockIoResources& b);

  const std::vector<CgroupDir>& dirs_;
  const PlanOptions& options_;
  ResourcePlan* plan_;
  std::map<std::string, std::vector<std::string>> enabled_;  // v2 dir → its cgroup.controllers
};

absl::StatusOr<std::vector<std::string>> Planner::EnabledV2(const std::string& dir) {
  auto it = enabled_.find(dir);
  if (it != enabled_.end()) return it->second;
  ASSIGN_OR_RETURN(std::string text, ReadCgroupFile(dir, "cgroup.controllers"));
  return enabled_[dir] = ParseControllerList(text);
}

absl::StatusOr<const CgroupDir*> Planner::Need(std::string_view controller, std::string_view what) {
  const CgroupDir* d = FindDir(dirs_, controller);
  if (d == nullptr) {
    bool pure_v2 =
        std::all_of(dirs_.begin(), dirs_.end(), [](const CgroupDir& x) { return x.hierarchy.version == 2; });
    return absl::FailedPreconditionError(
        StrCat(what, " needs the \"", controller, "\" cgroup controller, which ",
               pure_v2 ? "cgroup v2 does not offer on this host" : "is not mounted on this host"));
  }
  if (d->hierarchy.version == 2) {
    ASSIGN_OR_RETURN(std::vector<std::string> enabled, EnabledV2(d->dir));
    if (std::find(enabled.begin(), enabled.end(), controller) == enabled.end()) {
      return absl::FailedPreconditionError(StrCat(what, " needs the cgroup v2 controller \"", controller,
                                                  "\", which is not enabled for ", d->dir,
                                                  " (cgroup.controllers: \"", Join(enabled, " "), "\")"));
    }
  }
  return d;
}

absl::Status Planner::NeedFile(const CgroupDir& d, std::string_view file, std::string_view what) {
  if (CgroupFileExists(d.dir, file)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      StrCat(what, " is not supported by this kernel: ", d.dir, "/", file, " does not exist"));
}

absl::Status Planner::Memory(const oci::MemoryResources& m) {
  bool any = (m.limit && *m.limit != 0) || (m.swap && *m.swap != 0) ||
             (m.reservation && *m.reservation != 0) || m.kernel_tcp ||
             (m.swappiness && *m.swappiness != std::numeric_limits<uint64_t>::max()) ||
             m.disable_oom_killer || m.use_hierarchy;
  if (m.kernel) log::Warn(kLog, "linux.resources.memory.kernel is deprecated and ignored");
  if (!any) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("memory", "linux.resources.memory"));
  return d->hierarchy.version == 1 ? MemoryV1(*d, m) : MemoryV2(*d, m);
}

absl::Status Planner::MemoryV1(const CgroupDir& d, const oci::MemoryResources& m) {
  int64_t limit = m.limit.value_or(0);
  int64_t swap = m.swap.value_or(0);
  if (swap != 0) {
    RETURN_IF_ERROR(
        NeedFile(d, "memory.memsw.limit_in_bytes", "linux.resources.memory.swap (swap accounting)"));
    if (swap > 0 && (limit < 0 || (limit > 0 && swap < limit))) {
      return absl::InvalidArgumentError(StrCat("linux.resources.memory.swap ", swap,
                                               " (memory+swap) is below linux.resources.memory.limit ",
                                               limit));
    }
  }
  if (limit != 0 && swap != 0) {
    AddPair(d, "memory.limit_in_bytes", V1Limit(limit), "memory.memsw.limit_in_bytes", V1Limit(swap));
  } else if (limit != 0) {
    Add(d, "memory.limit_in_bytes", V1Limit(limit));
  } else if (swap != 0) {
    Add(d, "memory.memsw.limit_in_bytes", V1Limit(swap));
  }
  if (m.reservation && *m.reservation != 0) Add(d, "memory.soft_limit_in_bytes", V1Limit(*m.reservation));
  if (m.kernel_tcp) {
    RETURN_IF_ERROR(NeedFile(d, "memory.kmem.tcp.limit_in_bytes", "linux.resources.memory.kernelTCP"));
    Add(d, "memory.kmem.tcp.limit_in_bytes", V1Limit(*m.kernel_tcp));
  }
  if (m.swappiness && *m.swappiness != std::numeric_limits<uint64_t>::max()) {
    if (*m.swappiness > 100) {
      return absl::InvalidArgumentError(
          StrCat("linux.resources.memory.swappiness ", *m.swappiness, " is not within 0..100"));
    }
    Add(d, "memory.swappiness", StrCat(*m.swappiness));
  }
  if (m.disable_oom_killer) Add(d, "memory.oom_control", *m.disable_oom_killer ? "1" : "0");
  if (m.use_hierarchy) Add(d, "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0");
  return absl::OkStatus();
}

absl::Status Planner::MemoryV2(const CgroupDir& d, const oci::MemoryResources& m) {
  int64_t limit = m.limit.value_or(0);
  int64_t swap = m.swap.value_or(0);
  if (m.swappiness && *m.swappiness != std::numeric_limits<uint64_t>::max()) {
    return absl::InvalidArgumentError("linux.resources.memory.swappiness is not supported on cgroup v2");
  }
  if (m.disable_oom_killer.value_or(false)) {
    return absl::InvalidArgumentError(
        "linux.resources.memory.disableOOMKiller is not supported on cgroup v2");
  }
  if (m.kernel_tcp)
    log::Debug(kLog, "memory.kernelTCP has no cgroup v2 file; socket memory counts in memory.max");
  std::optional<std::string> swap_max;
  if (swap < 0 || (swap == 0 && limit < 0)) {
    // Unlimited memory+swap; an unlimited limit without a swap value also lifts swap, as v1 would.
    swap_max = "max";
  } else if (swap > 0) {
    if (limit <= 0) {
      return absl::InvalidArgumentError(
          StrCat("linux.resources.memory.swap ", swap,
                 " needs a memory.limit on cgroup v2 (swap.max = swap - limit)"));
    }
    if (swap < limit) {
      return absl::InvalidArgumentError(StrCat("linux.resources.memory.swap ", swap,
                                               " (memory+swap) is below linux.resources.memory.limit ",
                                               limit));
    }
    swap_max = StrCat(swap - limit);
  }
  if (swap_max)
    RETURN_IF_ERROR(NeedFile(d, "memory.swap.max", "linux.resources.memory.swap (swap accounting)"));
  if (options_.update && m.check_before_update.value_or(false) && limit > 0) {
    ASSIGN_OR_RETURN(std::optional<uint64_t> current, ReadCgroupUint(d.dir, "memory.current"));
    if (current && static_cast<uint64_t>(limit) < *current) {
      return absl::FailedPreconditionError(StrCat("linux.resources.memory.limit ", limit,
                                                  " is below the current usage ", *current,
                                                  " (checkBeforeUpdate)"));
    }
  }
  if (m.reservation && *m.reservation != 0) Add(d, "memory.low", V2Limit(*m.reservation));
  if (swap_max) Add(d, "memory.swap.max", *swap_max);
  if (limit != 0) Add(d, "memory.max", V2Limit(limit));
  return absl::OkStatus();
}

absl::Status Planner::Cpu(const oci::CpuResources& c) {
  bool any = c.shares.value_or(0) != 0 || c.quota.value_or(0) != 0 || c.period.value_or(0) != 0 || c.burst ||
             c.realtime_runtime || c.realtime_period || c.idle;
  if (!any) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("cpu", "linux.resources.cpu"));
  return d->hierarchy.version == 1 ? CpuV1(*d, c) : CpuV2(*d, c);
}

absl::Status Planner::CpuV1(const CgroupDir& d, const oci::CpuResources& c) {
  if (c.shares.value_or(0) != 0) Add(d, "cpu.shares", StrCat(*c.shares));
  int64_t quota = c.quota.value_or(0);
  uint64_t period = c.period.value_or(0);
  if (period != 0 && quota != 0) {
    AddPair(d, "cpu.cfs_period_us", StrCat(period), "cpu.cfs_quota_us", V1Limit(quota));
  } else if (period != 0) {
    Add(d, "cpu.cfs_period_us", StrCat(period));
  } else if (quota != 0) {
    Add(d, "cpu.cfs_quota_us", V1Limit(quota));
  }
  if (c.burst) {
    RETURN_IF_ERROR(NeedFile(d, "cpu.cfs_burst_us", "linux.resources.cpu.burst"));
    Add(d, "cpu.cfs_burst_us", StrCat(*c.burst));
  }
  if (c.realtime_period || c.realtime_runtime) {
    RETURN_IF_ERROR(
        NeedFile(d, "cpu.rt_runtime_us", "linux.resources.cpu.realtime* (CONFIG_RT_GROUP_SCHED)"));
  }
  if (c.realtime_period && c.realtime_runtime) {
    AddPair(d, "cpu.rt_period_us", StrCat(*c.realtime_period), "cpu.rt_runtime_us",
            StrCat(*c.realtime_runtime));
  } else if (c.realtime_period) {
    Add(d, "cpu.rt_period_us", StrCat(*c.realtime_period));
  } else if (c.realtime_runtime) {
    Add(d, "cpu.rt_runtime_us", StrCat(*c.realtime_runtime));
  }
  if (c.idle) {
    RETURN_IF_ERROR(NeedFile(d, "cpu.idle", "linux.resources.cpu.idle"));
    Add(d, "cpu.idle", StrCat(*c.idle));
  }
  return absl::OkStatus();
}

absl::Status Planner::CpuV2(const CgroupDir& d, const oci::CpuResources& c) {
  if (c.realtime_period || c.realtime_runtime) {
    return absl::InvalidArgumentError(
        "linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2");
  }
  if (c.shares.value_or(0) != 0) Add(d, "cpu.weight", StrCat(CpuSharesToWeight(*c.shares)));
  int64_t quota = c.quota.value_or(0);
  uint64_t period = c.period.value_or(0);
  if (quota != 0 || period != 0) {
    std::string max;
    if (quota != 0) {
      max = V2Limit(quota);
    } else {
      // Only the period changes: keep the quota that is there ("$MAX $PERIOD").
      ASSIGN_OR_RETURN(std::string current, ReadCgroupValue(d.dir, "cpu.max"));
      auto parts = SplitOnce(current, ' ');
      max = std::string(parts ? parts->first : std::string_view(current));
    }
    if (period != 0) StrAppend(&max, " ", period);
    Add(d, "cpu.max", max);
  }
  if (c.burst) {
    RETURN_IF_ERROR(NeedFile(d, "cpu.max.burst", "linux.resources.cpu.burst"));
    Add(d, "cpu.max.burst", StrCat(*c.burst));
  }
  if (c.idle) {
    RETURN_IF_ERROR(NeedFile(d, "cpu.idle", "linux.resources.cpu.idle"));
    Add(d, "cpu.idle", StrCat(*c.idle));
  }
  return absl::OkStatus();
}

absl::Status Planner::Cpuset(const oci::CpuResources& c) {
  if (c.cpus.empty() && c.mems.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("cpuset", "linux.resources.cpu.cpus/mems"));
  if (!c.cpus.empty()) Add(*d, "cpuset.cpus", c.cpus);
  if (!c.mems.empty()) Add(*d, "cpuset.mems", c.mems);
  return absl::OkStatus();
}

absl::Status Planner::Pids(const oci::PidsResources& p) {
  if (!p.limit) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("pids", "linux.resources.pids"));
  Add(*d, "pids.max", *p.limit > 0 ? StrCat(*p.limit) : "max");
  return absl::OkStatus();
}

absl::Status Planner::BlockIo(const oci::BlockIoResources& b) {
  if (b == oci::BlockIoResources{}) return absl::OkStatus();
  auto check_weight = [](uint16_t w, std::string_view what) -> absl::Status {
    if (w < 10 || w > 1000) {
      return absl::InvalidArgumentError(
          StrCat("linux.resources.blockIO.", what, " ", w, " is not within 10..1000"));
    }
    return absl::OkStatus();
  };
  if (b.weight) RETURN_IF_ERROR(check_weight(*b.weight, "weight"));
  if (b.leaf_weight) RETURN_IF_ERROR(check_weight(*b.leaf_weight, "leafWeight"));
  for (const oci::WeightDevice& w : b.weight_device) {
    if (w.weight) RETURN_IF_ERROR(check_weight(*w.weight, "weightDevice.weight"));
    if (w.leaf_weight) RETURN_IF_ERROR(check_weight(*w.leaf_weight, "weightDevice.leafWeight"));
  }
  const CgroupDir* v1 = FindDir(dirs_, "blkio");
  if (v1 != nullptr && v1->hierarchy.version == 1) return BlkioV1(*v1, b);
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("io", "linux.resources.blockIO"));
  return IoV2(*d, b);
}

absl::Status Planner::BlkioV1(const CgroupDir& d, const oci::BlockIoResources& b) {
  // CFQ offered blkio.weight; with BFQ the files are blkio.bfq.weight*; without either there is none.
  bool cfq = CgroupFileExists(d.dir, "blkio.weight");
  bool bfq = !cfq && CgroupFileExists(d.dir, "blkio.bfq.weight");
  std::string weight_file = cfq ? "blkio.weight" : "blkio.bfq.weight";
  bool wants_weight =
      b.weight.has_value() || std::any_of(b.weight_device.begin(), b.weight_device.end(),
                                          [](const oci::WeightDevice& w) { return w.weight; });
  if (wants_weight && !cfq && !bfq) {
    return absl::FailedPreconditionError(
        StrCat("linux.resources.blockIO weights need an I/O scheduler with cgroup "
               "weights (CFQ or BFQ): neither blkio.weight nor blkio.bfq.weight "
               "exists in ",
               d.dir));
  }
  if (b.weight) Add(d, weight_file, StrCat(*b.weight));
  if (b.leaf_weight) {
    RETURN_IF_ERROR(NeedFile(d, "blkio.leaf_weight", "linux.resources.blockIO.leafWeight"));
    Add(d, "blkio.leaf_weight", StrCat(*b.leaf_weight));
  }
  for (const oci::WeightDevice& w : b.weight_device) {
    if (w.weight) Add(d, weight_file + "_device", StrCat(Dev(w.major, w.minor), " ", *w.weight));
    if (w.leaf_weight) {
      RETURN_IF_ERROR(
          NeedFile(d, "blkio.leaf_weight_device", "linux.resources.blockIO.weightDevice.leafWeight"));
      Add(d, "blkio.leaf_weight_device", StrCat(Dev(w.major, w.minor), " ", *w.leaf_weight));
    }
  }
  const std::pair<const std::vector<oci::ThrottleDevice>*, std::string_view> throttles[] = {
      {&b.throttle_read_bps_device, "blkio.throttle.read_bps_device"},
      {&b.throttle_write_bps_device, "blkio.throttle.write_bps_device"},
      {&b.throttle_read_iops_device, "blkio.throttle.read_iops_device"},
      {&b.throttle_write_iops_device, "blkio.throttle.write_iops_device"}};
  for (const auto& [list, file] : throttles) {
    if (!list->empty()) RETURN_IF_ERROR(NeedFile(d, file, "linux.resources.blockIO throttling"));
    for (const oci::ThrottleDevice& t : *list)
      Add(d, std::string(file), StrCat(Dev(t.major, t.minor), " ", t.rate));
  }
  return absl::OkStatus();
}

absl::Status Planner::IoV2(const CgroupDir& d, const oci::BlockIoResources& b) {
  if (b.leaf_weight || std::any_of(b.weight_device.begin(), b.weight_device.end(),
                                   [](const oci::WeightDevice& w) { return w.leaf_weight; })) {
    return absl::InvalidArgumentError("linux.resources.blockIO leafWeight is not supported on cgroup v2");
  }
  bool bfq = CgroupFileExists(d.dir, "io.bfq.weight");
  bool wants_weight = b.weight.has_value() || !b.weight_device.empty();
  if (wants_weight && !bfq) RETURN_IF_ERROR(NeedFile(d, "io.weight", "linux.resources.blockIO weights"));
  auto weight = [bfq](uint16_t w) { return bfq ? uint64_t{w} : BlkioWeightToIoWeight(w); };
  std::string weight_file = bfq ? "io.bfq.weight" : "io.weight";
  if (b.weight) Add(d, weight_file, StrCat("default ", weight(*b.weight)));
  for (const oci::WeightDevice& w : b.weight_device) {
    if (w.weight) Add(d, weight_file, StrCat(Dev(w.major, w.minor), " ", weight(*w.weight)));
  }
  const std::pair<const std::vector<oci::ThrottleDevice>*, std::string_view> throttles[] = {
      {&b.throttle_read_bps_device, "rbps"},
      {&b.throttle_write_bps_device, "wbps"},
      {&b.throttle_read_iops_device, "riops"},
      {&b.throttle_write_iops_device, "wiops"}};
  for (const auto& [list, key] : throttles) {
    for (const oci::ThrottleDevice& t : *list) {
      Add(d, "io.max", StrCat(Dev(t.major, t.minor), " ", key, "=", t.rate == 0 ? "max" : StrCat(t.rate)));
    }
  }
  return absl::OkStatus();
}

absl::Status Planner::Hugetlb(const std::vector<oci::HugepageLimit>& limits) {
  if (limits.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("hugetlb", "linux.resources.hugepageLimits"));
  bool v1 = d->hierarchy.version == 1;
  for (const oci::HugepageLimit& l : limits) {
    if (!ValidPageSize(l.page_size)) {
      return absl::InvalidArgumentError(StrCat("linux.resources.hugepageLimits pageSize \"", l.page_size,
                                               "\" is not of the form <n>KB|MB|GB"));
    }
    std::string file = StrCat("hugetlb.", l.page_size, v1 ? ".limit_in_bytes" : ".max");
    RETURN_IF_ERROR(NeedFile(*d, file, StrCat("hugepage size ", l.page_size)));
    Add(*d, file, StrCat(l.limit));
    // Reservations are charged separately (kernel ≥ 5.7); limit them alike so that mmap(MAP_HUGETLB)
    // fails up front rather than faulting later.
    std::string rsvd = StrCat("hugetlb.", l.page_size, v1 ? ".rsvd.limit_in_bytes" : ".rsvd.max");
    if (CgroupFileExists(d->dir, rsvd)) Add(*d, rsvd, StrCat(l.limit));
  }
  return absl::OkStatus();
}

absl::Status Planner::Network(const oci::NetworkResources& n) {
  if (n.class_id) {
    ASSIGN_OR_RETURN(const CgroupDir* d, Need("net_cls", "linux.resources.network.classID"));
    Add(*d, "net_cls.classid", StrCat(*n.class_id));
  }
  if (!n.priorities.empty()) {
    ASSIGN_OR_RETURN(const CgroupDir* d, Need("net_prio", "linux.resources.network.priorities"));
    for (const oci::InterfacePriority& p : n.priorities) {
      if (p.name.empty() || p.name.find_first_of(" \n/") != std::string::npos) {
        return absl::InvalidArgumentError(
            StrCat("linux.resources.network.priorities: bad interface name \"", p.name, "\""));
      }
      Add(*d, "net_prio.ifpriomap", StrCat(p.name, " ", p.priority));
    }
  }
  return absl::OkStatus();
}

absl::Status Planner::Rdma(const std::map<std::string, oci::RdmaLimit>& rdma) {
  if (rdma.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CgroupDir* d, Need("rdma", "linux.resources.rdma"));
  for (const auto& [device, limit] : rdma) {
    if (device.empty() || device.find_first_of(" \n/") != std::string::npos) {
      return absl::InvalidArgumentError(StrCat("linux.resources.rdma: bad device name \"", device, "\""));
    }
    std::string line = device;
    if (limit.hca_handles) StrAppend(&line, " hca_handle=", *limit.hca_handles);
    if (limit.hca_objects) StrAppend(&line, " hca_object=", *limit.hca_objects);
    Add(*d, "rdma.max", line);
  }
  return absl::OkStatus();
}

absl::Status Planner::Devices(const std::vector<oci::DeviceCgroupRule>& spec_rules) {
  if (spec_rules.empty()) return absl::OkStatus();
  std::vector<DeviceRule> rules;
  for (size_t i = 0; i < spec_rules.size(); ++i) {
    const oci::DeviceCgroupRule& s = spec_rules[i];
    absl::StatusOr<DeviceRule> r = MakeDeviceRule(s.allow, s.type, s.major, s.minor, s.access);
    if (!r.ok()) return Annotate(r.status(), StrCat("linux.resources.devices[", i, "]"));
    rules.push_back(*r);
  }
  const CgroupDir* v1 = FindDir(dirs_, "devices");
  if (v1 != nullptr && v1->hierarchy.version == 1) {
    ASSIGN_OR_RETURN(std::string list, ReadCgroupFile(v1->dir, "devices.list"));
    ASSIGN_OR_RETURN(V1DeviceState current, ParseV1DevicesList(list));
    for (auto& [file, line] : V1DeviceWrites(current, V1StateFor(rules))) Add(*v1, file, line);
    return absl::OkStatus();
  }
  const CgroupDir* u = FindUnified(dirs_);
  if (u == nullptr) {
    return absl::FailedPreconditionError(
        "linux.resources.devices needs the \"devices\" cgroup v1 controller or cgroup v2, and this host has "
        "neither");
  }
  plan_->device_program = DeviceProgram{u->dir, std::move(rules)};
  return absl::OkStatus();
}

absl::Status Planner::Unified(const std::map<std::string, std::string>& unified) {
  if (unified.empty()) return absl::OkStatus();
  const CgroupDir* u = FindUnified(dirs_);
  if (u == nullptr) {
    return absl::InvalidArgumentError(
        "linux.resources.unified needs cgroup v2, and this host runs cgroup v1 only");
  }
  for (const auto& [key, value] : unified) {
    if (key.empty() || key == "." || key == ".." || key.find('/') != std::string::npos ||
        key.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("linux.resources.unified key \"", key, "\" is not a file name"));
    }
    if (!CgroupFileExists(u->dir, key)) {
      std::string controller = key.substr(0, key.find('.'));
      const CgroupDir* served = FindDir(dirs_, controller);
      if (served != nullptr && served->hierarchy.version == 1) {
        return absl::InvalidArgumentError(StrCat("linux.resources.unified key \"", key,
                                                 "\" belongs to the \"", controller,
                                                 "\" controller, which this host runs on cgroup v1"));
      }
      ASSIGN_OR_RETURN(std::vector<std::string> enabled, EnabledV2(u->dir));
      if (controller != "cgroup" && std::find(enabled.begin(), enabled.end(), controller) == enabled.end()) {
        return absl::FailedPreconditionError(StrCat("linux.resources.unified key \"", key,
                                                    "\" needs the cgroup v2 controller \"", controller,
                                                    "\", which is not enabled for ", u->dir));
      }
      return absl::InvalidArgumentError(
          StrCat("linux.resources.unified key \"", key, "\": ", u->dir, "/", key, " does not exist"));
    }
    Add(*u, key, value);
  }
  return absl::OkStatus();
}

}  // namespace

const CgroupDir* FindDir(const std::vector<CgroupDir>& dirs, std::string_view controller) {
  for (const CgroupDir& d : dirs) {
    if (d.hierarchy.version == 1 && d.hierarchy.Has(controller)) return &d;
  }
  for (const CgroupDir& d : dirs) {
    if (d.hierarchy.version == 2 && d.hierarchy.Has(controller)) return &d;
  }
  return nullptr;
}

const CgroupDir* FindUnified(const std::vector<CgroupDir>& dirs) {
  for (const CgroupDir& d : dirs) {
    if (d.hierarchy.version == 2) return &d;
  }
  return nullptr;
}

uint64_t CpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t BlkioWeightToIoWeight(uint64_t weight) {
  if (weight <= 10) return 1;
  if (weight >= 1000) return 10000;
  return 1 + ((weight - 10) * 9999) / 990;
}

absl::StatusOr<ResourcePlan> PlanResources(const std::vector<CgroupDir>& dirs, const oci::LinuxResources& r,
                                           const PlanOptions& options) {
  ResourcePlan plan;
  Planner p(dirs, options, &plan);
  if (r.cpu) RETURN_IF_ERROR(p.Cpuset(*r.cpu));
  if (r.memory) RETURN_IF_ERROR(p.Memory(*r.memory));
  if (r.cpu) RETURN_IF_ERROR(p.Cpu(*r.cpu));
  if (r.pids) RETURN_IF_ERROR(p.Pids(*r.pids));
  if (r.block_io) RETURN_IF_ERROR(p.BlockIo(*r.block_io));
  RETURN_IF_ERROR(p.Hugetlb(r.hugepage_limits));
  if (r.network) RETURN_IF_ERROR(p.Network(*r.network));
  RETURN_IF_ERROR(p.Rdma(r.rdma));
  RETURN_IF_ERROR(p.Devices(r.devices));
  RETURN_IF_ERROR(p.Unified(r.unified));
  return plan;
}

absl::Status ApplyPlan(const ResourcePlan& plan, const DeviceFilterInstaller& installer) {
  for (const CgroupWrite& w : plan.writes) {
    absl::Status st = WriteCgroupFile(w.dir, w.file, w.value);
    if (w.pair_file.empty()) {
      RETURN_IF_ERROR(st);
      continue;
    }
    if (st.ok()) {
      RETURN_IF_ERROR(WriteCgroupFile(w.dir, w.pair_file, w.pair_value));
      continue;
    }
    if (!absl::IsInvalidArgument(st)) return st;
    // The new first value conflicts with the old second one: write the second first.
    RETURN_IF_ERROR(WriteCgroupFile(w.dir, w.pair_file, w.pair_value));
    RETURN_IF_ERROR(WriteCgroupFile(w.dir, w.file, w.value));
  }
  if (plan.device_program)
    RETURN_IF_ERROR(installer.Install(plan.device_program->dir, plan.device_program->rules));
  return absl::OkStatus();
}

}  // namespace cricket::cgroups
