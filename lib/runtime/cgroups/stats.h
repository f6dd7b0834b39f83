// Cgroup statistics, read from whichever hierarchy serves each controller, in the units kubelet and
// the CRI stats messages use (nanoseconds, bytes).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cgroups {

struct CpuStats {
  uint64_t usage_ns = 0;
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
  uint64_t periods = 0;  // CFS enforcement periods
  uint64_t throttled_periods = 0;
  uint64_t throttled_ns = 0;
  bool operator==(const CpuStats&) const = default;
};

struct MemoryStats {
  uint64_t usage = 0;        // v1 memory.usage_in_bytes, v2 memory.current
  uint64_t working_set = 0;  // usage - inactive_file (0 when negative), as kubelet/cAdvisor compute it
  uint64_t rss = 0;          // v1 total_rss, v2 anon
  uint64_t cache = 0;        // v1 total_cache, v2 file
  uint64_t inactive_file = 0;
  uint64_t page_faults = 0;
  uint64_t major_page_faults = 0;
  uint64_t swap = 0;              // v1 memsw usage - usage, v2 memory.swap.current
  uint64_t max_usage = 0;         // v1 only (memory.max_usage_in_bytes), v2 memory.peak when present
  uint64_t failcnt = 0;           // v1 memory.failcnt, v2 memory.events "max"
  uint64_t oom_kills = 0;         // v1 oom_control oom_kill, v2 memory.events oom_kill
  std::optional<uint64_t> limit;  // nullopt: unlimited
  bool operator==(const MemoryStats&) const = default;
};

struct PidsStats {
  uint64_t current = 0;
  std::optional<uint64_t> limit;  // nullopt: unlimited
  bool operator==(const PidsStats&) const = default;
};

struct HugetlbStats {
  uint64_t usage = 0;
  uint64_t max_usage = 0;  // v1 only
  uint64_t failcnt = 0;    // v1 failcnt, v2 events "max"
  bool operator==(const HugetlbStats&) const = default;
};

struct IoStats {
  uint64_t read_bytes = 0;  // summed over devices
  uint64_t write_bytes = 0;
  uint64_t read_ops = 0;
  uint64_t write_ops = 0;
  bool operator==(const IoStats&) const = default;
};

// Which parts GetStats reads. The CRI's container and pod statistics need cpu, memory and pids only;
// hugetlb and io (a dozen more files per cgroup on v1) are for the metrics.
struct StatsParts {
  bool cpu = true;
  bool memory = true;
  bool pids = true;
  bool hugetlb = true;
  bool io = true;
  static StatsParts CpuMemoryPids() { return {.hugetlb = false, .io = false}; }
};

// Each part is absent when its controller is not available for the cgroup (or was not asked for).
struct Stats {
  std::optional<CpuStats> cpu;
  std::optional<MemoryStats> memory;
  std::optional<PidsStats> pids;
  std::map<std::string, HugetlbStats> hugetlb;  // key: page size ("2MB")
  std::optional<IoStats> io;
};

// Readers for one directory; tests feed them fake trees with kernel-shaped contents.
absl::StatusOr<CpuStats> ReadCpuStatsV1(const std::string& cpuacct_dir, const std::string& cpu_dir);
absl::StatusOr<CpuStats> ReadCpuStatsV2(const std::string& dir);
absl::StatusOr<MemoryStats> ReadMemoryStatsV1(const std::string& dir);
absl::StatusOr<MemoryStats> ReadMemoryStatsV2(const std::string& dir);
absl::StatusOr<PidsStats> ReadPidsStats(const std::string& dir);
absl::StatusOr<std::map<std::string, HugetlbStats>> ReadHugetlbStats(const std::string& dir, int version);
absl::StatusOr<IoStats> ReadIoStatsV1(const std::string& dir);
absl::StatusOr<IoStats> ReadIoStatsV2(const std::string& dir);

// Parsers of single files.
// blkio.throttle.io_service_bytes(_recursive) / io_serviced: "8:0 Read 4096" lines → (read, write) sums.
std::pair<uint64_t, uint64_t> ParseBlkioReadWrite(std::string_view text);
// io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" lines, summed.
IoStats ParseIoStat(std::string_view text);

}  // namespace cricket::cgroups
