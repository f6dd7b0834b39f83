// The pieces of the CRI stats RPCs that do not touch the daemon's state: the CPU rate tracker behind
// usage_nano_cores, the /proc/<pid>/net/dev parser behind a pod's network usage, and the conversion
// of cgroup statistics (lib/runtime/cgroups/stats.h) into CRI CpuUsage / MemoryUsage messages.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/runtime/cgroups/stats.h"
#include "runtime/v1/api.pb.h"

namespace cricket::server {

// One reading of a cgroup's cumulative CPU time.
struct CpuSample {
  int64_t monotonic_ns = 0;  // when it was read (CLOCK_MONOTONIC)
  uint64_t usage_ns = 0;     // cpuacct.usage / cpu.stat usage_usec, in ns
};

// usage_nano_cores is a rate (CPU nanoseconds per second of wall time) while the cgroup only keeps a
// cumulative total, so the rate needs two readings. Like containerd and CRI-O, cricket remembers the
// previous reading per container (and per pod) and reports the rate over the time since then; the
// first reading has no rate: the field stays unset rather than an authoritative 0 (kubelet then uses
// its own samples; containerd PR #13138). A reading taken less than `min_interval_ns` after the
// remembered one (two clients asking at once; containerd issue #9531 reported zeros from that) is too
// short to measure: it gets the last rate, and the remembered reading stays, so the next interval is
// long enough. A total that went backwards (a new cgroup under the same key) starts over. Thread-safe.
class CpuRateTracker {
 public:
  explicit CpuRateTracker(int64_t min_interval_ns = 100'000'000) : min_interval_ns_(min_interval_ns) {}

  // Records `sample` for `key` and returns the rate in nanocores since the previous sample, or
  // nullopt when there is none yet.
  std::optional<uint64_t> Update(const std::string& key, const CpuSample& sample);

  // Forgets every key for which `keep` is false (containers and pods that are gone).
  void Retain(const std::function<bool(const std::string&)>& keep);
  size_t size() const;

 private:
  struct Entry {
    CpuSample sample;
    std::optional<uint64_t> rate;
  };
  const int64_t min_interval_ns_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// Readings that one stats call made and the next one wants again at once: kubelet asks for
// ListPodSandboxStats (which carries every container's statistics) and ListContainerStats back to back,
// so each container's cgroup files would be read twice within milliseconds. A reading younger than
// `max_age_ns` whose `tag` (the container's state) still matches is handed out again as it was, with the
// timestamps of when it was taken; anything older is read anew. Thread-safe.
template <class V>
class RecentReadings {
 public:
  explicit RecentReadings(int64_t max_age_ns) : max_age_ns_(max_age_ns) {}

  std::optional<V> Get(const std::string& key, int64_t now_ns, int tag) const {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.tag != tag || now_ns - it->second.taken_ns >= max_age_ns_ ||
        now_ns < it->second.taken_ns) {
      return std::nullopt;
    }
    return it->second.value;
  }
  void Put(const std::string& key, int64_t now_ns, int tag, V value) {
    absl::MutexLock l(&mu_);
    entries_.insert_or_assign(key, Entry{now_ns, tag, std::move(value)});
  }
  // Forgets expired readings and every key for which `keep` is false.
  void Retain(int64_t now_ns, const std::function<bool(const std::string&)>& keep) {
    absl::MutexLock l(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      bool live = now_ns - it->second.taken_ns < max_age_ns_ && keep(it->first);
      it = live ? std::next(it) : entries_.erase(it);
    }
  }
  size_t size() const {
    absl::MutexLock l(&mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    int64_t taken_ns;
    int tag;
    V value;
  };
  const int64_t max_age_ns_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// The rate between two samples in nanocores: (b.usage - a.usage) per (b.time - a.time), scaled to
// one second. nullopt when the interval is not positive or the usage went backwards.
std::optional<uint64_t> NanoCores(const CpuSample& a, const CpuSample& b);

// One line of /proc/<pid>/net/dev.
struct InterfaceCounters {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_dropped = 0;
  bool operator==(const InterfaceCounters&) const = default;
};

// Parses /proc/<pid>/net/dev (two header lines, then "  name: <8 receive> <8 transmit counters>";
// see proc(5) and net/core/net-procfs.c). InvalidArgument naming the line when a line is malformed.
absl::StatusOr<std::vector<InterfaceCounters>> ParseNetDev(std::string_view text);

// The pod network usage kubelet expects: every interface but the loopback, and the default interface
// `default_name` (eth0, the name CNI gives the pod's interface; the first other interface when there
// is no such one).
void FillNetworkUsage(const std::vector<InterfaceCounters>& interfaces, std::string_view default_name,
                      int64_t timestamp, ::runtime::v1::NetworkUsage* out);

// CRI messages from cgroup statistics. `nano_cores` is left unset when nullopt. available_bytes is
// limit - working set (0 when over the limit), as kubelet/cAdvisor compute it, and unset without a
// limit.
void FillCpuUsage(const cgroups::CpuStats& cpu, std::optional<uint64_t> nano_cores, int64_t timestamp,
                  ::runtime::v1::CpuUsage* out);
void FillMemoryUsage(const cgroups::MemoryStats& memory, int64_t timestamp, ::runtime::v1::MemoryUsage* out);

// Sums of the statistics of several cgroups (a pod without a cgroup parent of its own is the sum of
// its infra container and its containers). Limits are dropped: a sum has none.
cgroups::Stats SumStats(const std::vector<cgroups::Stats>& parts);

}  // namespace cricket::server
