#include "lib/runtime/cgroups/stats.h"

#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"

namespace cricket::cgroups {
namespace {

// v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes (0x7ffffffffffff000 with 4 KiB pages).
std::optional<uint64_t> V1Limit(uint64_t v) {
  if (v >= (uint64_t{1} << 62)) return std::nullopt;
  return v;
}

uint64_t Get(const std::map<std::string, uint64_t>& m, const std::string& key, uint64_t fallback = 0) {
  auto it = m.find(key);
  return it == m.end() ? fallback : it->second;
}

// memory.stat keys: the hierarchical "total_" form when the kernel has it (v1), else the plain one.
uint64_t GetTotal(const std::map<std::string, uint64_t>& m, const std::string& key) {
  auto it = m.find("total_" + key);
  return it != m.end() ? it->second : Get(m, key);
}

absl::StatusOr<uint64_t> ReadUint(const std::string& dir, std::string_view file) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> v, ReadCgroupUint(dir, file));
  return v.value_or(0);
}

absl::StatusOr<std::map<std::string, uint64_t>> ReadKeyed(const std::string& dir, std::string_view file) {
  ASSIGN_OR_RETURN(std::string text, ReadCgroupFile(dir, file));
  return ParseFlatKeyed(text);
}

uint64_t WorkingSet(uint64_t usage, uint64_t inactive_file) {
  return usage > inactive_file ? usage - inactive_file : 0;
}

}  // namespace

absl::StatusOr<CpuStats> ReadCpuStatsV1(const std::string& cpuacct_dir, const std::string& cpu_dir) {
  CpuStats s;
  if (!cpuacct_dir.empty()) {
    ASSIGN_OR_RETURN(s.usage_ns, ReadUint(cpuacct_dir, "cpuacct.usage"));
    if (CgroupFileExists(cpuacct_dir, "cpuacct.usage_user")) {
      ASSIGN_OR_RETURN(s.user_ns, ReadUint(cpuacct_dir, "cpuacct.usage_user"));
      ASSIGN_OR_RETURN(s.system_ns, ReadUint(cpuacct_dir, "cpuacct.usage_sys"));
    } else {
      // cpuacct.stat counts USER_HZ ticks.
      ASSIGN_OR_RETURN(auto stat, ReadKeyed(cpuacct_dir, "cpuacct.stat"));
      long hz = ::sysconf(_SC_CLK_TCK);
      uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(hz > 0 ? hz : 100);
      s.user_ns = Get(stat, "user") * ns_per_tick;
      s.system_ns = Get(stat, "system") * ns_per_tick;
    }
  }
  if (!cpu_dir.empty() && CgroupFileExists(cpu_dir, "cpu.stat")) {
    ASSIGN_OR_RETURN(auto stat, ReadKeyed(cpu_dir, "cpu.stat"));
    s.periods = Get(stat, "nr_periods");
    s.throttled_periods = Get(stat, "nr_throttled");
    s.throttled_ns = Get(stat, "throttled_time");
  }
  return s;
}

absl::StatusOr<CpuStats> ReadCpuStatsV2(const std::string& dir) {
  ASSIGN_OR_RETURN(auto stat, ReadKeyed(dir, "cpu.stat"));
  CpuStats s;
  s.usage_ns = Get(stat, "usage_usec") * 1000;
  s.user_ns = Get(stat, "user_usec") * 1000;
  s.system_ns = Get(stat, "system_usec") * 1000;
  s.periods = Get(stat, "nr_periods");
  s.throttled_periods = Get(stat, "nr_throttled");
  s.throttled_ns = Get(stat, "throttled_usec") * 1000;
  return s;
}

absl::StatusOr<MemoryStats> ReadMemoryStatsV1(const std::string& dir) {
  MemoryStats s;
  ASSIGN_OR_RETURN(s.usage, ReadUint(dir, "memory.usage_in_bytes"));
  ASSIGN_OR_RETURN(uint64_t limit, ReadUint(dir, "memory.limit_in_bytes"));
  s.limit = V1Limit(limit);
  ASSIGN_OR_RETURN(s.max_usage, ReadUint(dir, "memory.max_usage_in_bytes"));
  ASSIGN_OR_RETURN(s.failcnt, ReadUint(dir, "memory.failcnt"));
  ASSIGN_OR_RETURN(auto stat, ReadKeyed(dir, "memory.stat"));
  s.rss = GetTotal(stat, "rss");
  s.cache = GetTotal(stat, "cache");
  s.inactive_file = GetTotal(stat, "inactive_file");
  s.page_faults = GetTotal(stat, "pgfault");
  s.major_page_faults = GetTotal(stat, "pgmajfault");
  s.working_set = WorkingSet(s.usage, s.inactive_file);
  if (CgroupFileExists(dir, "memory.memsw.usage_in_bytes")) {
    ASSIGN_OR_RETURN(uint64_t memsw, ReadUint(dir, "memory.memsw.usage_in_bytes"));
    s.swap = memsw > s.usage ? memsw - s.usage : 0;
  }
  if (CgroupFileExists(dir, "memory.oom_control")) {
    ASSIGN_OR_RETURN(auto oom, ReadKeyed(dir, "memory.oom_control"));
    s.oom_kills = Get(oom, "oom_kill");
  }
  return s;
}

absl::StatusOr<MemoryStats> ReadMemoryStatsV2(const std::string& dir) {
  MemoryStats s;
  ASSIGN_OR_RETURN(s.usage, ReadUint(dir, "memory.current"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> limit, ReadCgroupUint(dir, "memory.max"));
  s.limit = limit;
  ASSIGN_OR_RETURN(auto stat, ReadKeyed(dir, "memory.stat"));
  s.rss = Get(stat, "anon");
  s.cache = Get(stat, "file");
  s.inactive_file = Get(stat, "inactive_file");
  s.page_faults = Get(stat, "pgfault");
  s.major_page_faults = Get(stat, "pgmajfault");
  s.working_set = WorkingSet(s.usage, s.inactive_file);
  if (CgroupFileExists(dir, "memory.swap.current")) {
    ASSIGN_OR_RETURN(s.swap, ReadUint(dir, "memory.swap.current"));
  }
  if (CgroupFileExists(dir, "memory.peak")) {
    ASSIGN_OR_RETURN(s.max_usage, ReadUint(dir, "memory.peak"));
  }
  ASSIGN_OR_RETURN(auto events, ReadKeyed(dir, "memory.events"));
  s.failcnt = Get(events, "max");
  s.oom_kills = Get(events, "oom_kill");
  return s;
}

absl::StatusOr<PidsStats> ReadPidsStats(const std::string& dir) {
  PidsStats s;
  ASSIGN_OR_RETURN(s.current, ReadUint(dir, "pids.current"));
  ASSIGN_OR_RETURN(s.limit, ReadCgroupUint(dir, "pids.max"));
  return s;
}

absl::StatusOr<std::map<std::string, HugetlbStats>> ReadHugetlbStats(const std::string& dir, int version) {
  std::map<std::string, HugetlbStats> out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  const std::string_view suffix = version == 1 ? ".usage_in_bytes" : ".current";
  for (const std::string& name : names) {
    std::string_view n = name;
    if (!n.starts_with("hugetlb.") || !n.ends_with(suffix)) continue;
    std::string_view size = n.substr(8, n.size() - 8 - suffix.size());
    if (size.empty() || size.find('.') != std::string_view::npos) continue;  // skips *.rsvd.*
    HugetlbStats h;
    std::string prefix = StrCat("hugetlb.", size);
    ASSIGN_OR_RETURN(h.usage, ReadUint(dir, name));
    if (version == 1) {
      ASSIGN_OR_RETURN(h.max_usage, ReadUint(dir, prefix + ".max_usage_in_bytes"));
      ASSIGN_OR_RETURN(h.failcnt, ReadUint(dir, prefix + ".failcnt"));
    } else if (CgroupFileExists(dir, prefix + ".events")) {
      ASSIGN_OR_RETURN(auto events, ReadKeyed(dir, prefix + ".events"));
      h.failcnt = Get(events, "max");
    }
    out[std::string(size)] = h;
  }
  return out;
}

std::pair<uint64_t, uint64_t> ParseBlkioReadWrite(std::string_view text) {
  uint64_t read = 0, write = 0;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> f = Split(TrimSpace(line), ' ');
    if (f.size() != 3) continue;  // "Total N" summary lines have two fields
    std::optional<uint64_t> v = ParseUint64(f[2]);
    if (!v) continue;
    if (f[1] == "Read") read += *v;
    if (f[1] == "Write") write += *v;
  }
  return {read, write};
}

IoStats ParseIoStat(std::string_view text) {
  IoStats s;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> f = Split(TrimSpace(line), ' ');
    for (size_t i = 1; i < f.size(); ++i) {
      auto kv = SplitOnce(f[i], '=');
      if (!kv) continue;
      std::optional<uint64_t> v = ParseUint64(kv->second);
      if (!v) continue;
      if (kv->first == "rbytes") s.read_bytes += *v;
      if (kv->first == "wbytes") s.write_bytes += *v;
      if (kv->first == "rios") s.read_ops += *v;
      if (kv->first == "wios") s.write_ops += *v;
    }
  }
  return s;
}

absl::StatusOr<IoStats> ReadIoStatsV1(const std::string& dir) {
  auto pick = [&dir](std::string_view base) {
    std::string recursive = StrCat(base, "_recursive");
    return CgroupFileExists(dir, recursive) ? recursive : std::string(base);
  };
  IoStats s;
  ASSIGN_OR_RETURN(std::string bytes, ReadCgroupFile(dir, pick("blkio.throttle.io_service_bytes")));
  ASSIGN_OR_RETURN(std::string ops, ReadCgroupFile(dir, pick("blkio.throttle.io_serviced")));
  std::tie(s.read_bytes, s.write_bytes) = ParseBlkioReadWrite(bytes);
  std::tie(s.read_ops, s.write_ops) = ParseBlkioReadWrite(ops);
  return s;
}

absl::StatusOr<IoStats> ReadIoStatsV2(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadCgroupFile(dir, "io.stat"));
  return ParseIoStat(text);
}

}  // namespace cricket::cgroups
