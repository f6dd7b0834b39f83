#include "server/usage_stats.h"

#include <cmath>

#include "lib/common/strings.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

std::optional<uint64_t> NanoCores(const CpuSample& a, const CpuSample& b) {
  if (b.monotonic_ns <= a.monotonic_ns || b.usage_ns < a.usage_ns) return std::nullopt;
  // In double: the product of a long interval's usage and 1e9 does not fit 64 bits.
  double rate = static_cast<double>(b.usage_ns - a.usage_ns) * 1e9 /
                static_cast<double>(b.monotonic_ns - a.monotonic_ns);
  return static_cast<uint64_t>(std::llround(rate));
}

std::optional<uint64_t> CpuRateTracker::Update(const std::string& key, const CpuSample& sample) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    entries_.emplace(key, Entry{sample, std::nullopt});
    return std::nullopt;
  }
  Entry& e = it->second;
  if (sample.usage_ns < e.sample.usage_ns || sample.monotonic_ns < e.sample.monotonic_ns) {
    e = Entry{sample, std::nullopt};
    return std::nullopt;
  }
  if (sample.monotonic_ns - e.sample.monotonic_ns < min_interval_ns_) return e.rate;
  e.rate = NanoCores(e.sample, sample);
  e.sample = sample;
  return e.rate;
}

void CpuRateTracker::Retain(const std::function<bool(const std::string&)>& keep) {
  absl::MutexLock l(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = keep(it->first) ? std::next(it) : entries_.erase(it);
  }
}

size_t CpuRateTracker::size() const {
  absl::MutexLock l(&mu_);
  return entries_.size();
}

absl::StatusOr<std::vector<InterfaceCounters>> ParseNetDev(std::string_view text) {
  std::vector<InterfaceCounters> out;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (line_no <= 2 || TrimSpace(line).empty()) continue;  // the two header lines
    auto split = SplitOnce(line, ':');
    if (!split)
      return absl::InvalidArgumentError(StrCat("net/dev line ", line_no, ": no ':' in \"", line, "\""));
    InterfaceCounters c;
    c.name = std::string(TrimSpace(split->first));
    std::vector<uint64_t> fields;
    for (std::string_view f : Split(split->second, ' ')) {
      if (f.empty()) continue;
      auto v = ParseUint64(f);
      if (!v)
        return absl::InvalidArgumentError(StrCat("net/dev line ", line_no, ": bad counter \"", f, "\""));
      fields.push_back(*v);
    }
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs
    // drop fifo colls carrier compressed.
    if (c.name.empty() || fields.size() < 16) {
      return absl::InvalidArgumentError(
          StrCat("net/dev line ", line_no, ": expected an interface and 16 counters in \"", line, "\""));
    }
    c.rx_bytes = fields[0];
    c.rx_packets = fields[1];
    c.rx_errors = fields[2];
    c.rx_dropped = fields[3];
    c.tx_bytes = fields[8];
    c.tx_packets = fields[9];
    c.tx_errors = fields[10];
    c.tx_dropped = fields[11];
    out.push_back(std::move(c));
  }
  return out;
}

void FillNetworkUsage(const std::vector<InterfaceCounters>& interfaces, std::string_view default_name,
                      int64_t timestamp, v1::NetworkUsage* out) {
  out->set_timestamp(timestamp);
  bool have_default = false;
  for (const InterfaceCounters& c : interfaces) {
    if (c.name == "lo") continue;
    v1::NetworkInterfaceUsage* u = out->add_interfaces();
    u->set_name(c.name);
    u->mutable_rx_bytes()->set_value(c.rx_bytes);
    u->mutable_rx_errors()->set_value(c.rx_errors);
    u->mutable_tx_bytes()->set_value(c.tx_bytes);
    u->mutable_tx_errors()->set_value(c.tx_errors);
    if (c.name == default_name) {
      *out->mutable_default_interface() = *u;
      have_default = true;
    }
  }
  if (!have_default && out->interfaces_size() > 0) *out->mutable_default_interface() = out->interfaces(0);
}

void FillCpuUsage(const cgroups::CpuStats& cpu, std::optional<uint64_t> nano_cores, int64_t timestamp,
                  v1::CpuUsage* out) {
  out->set_timestamp(timestamp);
  out->mutable_usage_core_nano_seconds()->set_value(cpu.usage_ns);
  if (nano_cores) out->mutable_usage_nano_cores()->set_value(*nano_cores);
}

void FillMemoryUsage(const cgroups::MemoryStats& memory, int64_t timestamp, v1::MemoryUsage* out) {
  out->set_timestamp(timestamp);
  out->mutable_working_set_bytes()->set_value(memory.working_set);
  if (memory.limit) {
    out->mutable_available_bytes()->set_value(
        *memory.limit > memory.working_set ? *memory.limit - memory.working_set : 0);
  }
  out->mutable_usage_bytes()->set_value(memory.usage);
  out->mutable_rss_bytes()->set_value(memory.rss);
  out->mutable_page_faults()->set_value(memory.page_faults);
  out->mutable_major_page_faults()->set_value(memory.major_page_faults);
}

cgroups::Stats SumStats(const std::vector<cgroups::Stats>& parts) {
  cgroups::Stats sum;
  for (const cgroups::Stats& p : parts) {
    if (p.cpu) {
      if (!sum.cpu) sum.cpu.emplace();
      sum.cpu->usage_ns += p.cpu->usage_ns;
      sum.cpu->user_ns += p.cpu->user_ns;
      sum.cpu->system_ns += p.cpu->system_ns;
      sum.cpu->periods += p.cpu->periods;
      sum.cpu->throttled_periods += p.cpu->throttled_periods;
      sum.cpu->throttled_ns += p.cpu->throttled_ns;
    }
    if (p.memory) {
      if (!sum.memory) sum.memory.emplace();
      cgroups::MemoryStats& m = *sum.memory;
      m.usage += p.memory->usage;
      m.working_set += p.memory->working_set;
      m.rss += p.memory->rss;
      m.cache += p.memory->cache;
      m.inactive_file += p.memory->inactive_file;
      m.page_faults += p.memory->page_faults;
      m.major_page_faults += p.memory->major_page_faults;
      m.swap += p.memory->swap;
      m.failcnt += p.memory->failcnt;
      m.oom_kills += p.memory->oom_kills;
    }
    if (p.pids) {
      if (!sum.pids) sum.pids.emplace();
      sum.pids->current += p.pids->current;
    }
  }
  return sum;
}

}  // namespace cricket::server
