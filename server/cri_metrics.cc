#include "server/cri_metrics.h"

#include <sys/statvfs.h>

#include <map>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/runtime/cgroups/manager.h"
#include "server/cri_runtime.h"
#include "server/stats_collector.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

constexpr std::array<std::string_view, 5> kBaseLabels = {"id", "image", "namespace", "pod", "container"};

struct MetricDef {
  std::string_view group;  // "" for the always-on ones
  std::string_view name;
  v1::MetricType type;
  std::string_view help;
  std::vector<std::string_view> labels;  // after the base labels
};

constexpr auto C = v1::COUNTER;
constexpr auto G = v1::GAUGE;

// Every metric cricket reports, in ListMetricDescriptors order.
const std::vector<MetricDef>& Defs() {
  static const std::vector<MetricDef> defs = {
      {"", "container_last_seen", G, "Last time the container was seen, in seconds since the epoch.", {}},
      {"cpu", "container_cpu_user_seconds_total", C, "User CPU time consumed, in seconds.", {}},
      {"cpu", "container_cpu_system_seconds_total", C, "System CPU time consumed, in seconds.", {}},
      {"cpu", "container_cpu_usage_seconds_total", C, "CPU time consumed, in seconds.", {"cpu"}},
      {"cpu", "container_cpu_cfs_periods_total", C, "CFS enforcement periods elapsed.", {}},
      {"cpu",
       "container_cpu_cfs_throttled_periods_total",
       C,
       "CFS periods in which the cgroup was throttled.",
       {}},
      {"cpu",
       "container_cpu_cfs_throttled_seconds_total",
       C,
       "Time the cgroup was throttled, in seconds.",
       {}},
      {"memory", "container_memory_cache", G, "Page cache memory, in bytes.", {}},
      {"memory", "container_memory_rss", G, "Anonymous and swap cache memory (RSS), in bytes.", {}},
      {"memory", "container_memory_swap", G, "Swap usage, in bytes.", {}},
      {"memory", "container_memory_failcnt", C, "Times the memory usage hit its limit.", {}},
      {"memory", "container_memory_usage_bytes", G, "Memory usage including page cache, in bytes.", {}},
      {"memory", "container_memory_max_usage_bytes", G, "Highest memory usage recorded, in bytes.", {}},
      {"memory",
       "container_memory_working_set_bytes",
       G,
       "Working set (usage minus inactive file cache), in bytes.",
       {}},
      {"memory",
       "container_memory_failures_total",
       C,
       "Page faults, by type (pgfault, pgmajfault).",
       {"failure_type", "scope"}},
      {"network", "container_network_receive_bytes_total", C, "Bytes received.", {"interface"}},
      {"network", "container_network_receive_packets_total", C, "Packets received.", {"interface"}},
      {"network",
       "container_network_receive_packets_dropped_total",
       C,
       "Packets dropped while receiving.",
       {"interface"}},
      {"network", "container_network_receive_errors_total", C, "Errors while receiving.", {"interface"}},
      {"network", "container_network_transmit_bytes_total", C, "Bytes transmitted.", {"interface"}},
      {"network", "container_network_transmit_packets_total", C, "Packets transmitted.", {"interface"}},
      {"network",
       "container_network_transmit_packets_dropped_total",
       C,
       "Packets dropped while transmitting.",
       {"interface"}},
      {"network", "container_network_transmit_errors_total", C, "Errors while transmitting.", {"interface"}},
      {"disk", "container_fs_usage_bytes", G, "Bytes used by the container's writable layer.", {}},
      {"disk",
       "container_fs_limit_bytes",
       G,
       "Size of the filesystem holding the writable layer, in bytes.",
       {}},
      {"disk", "container_fs_inodes_total", G, "Inodes of the filesystem holding the writable layer.", {}},
      {"disk",
       "container_fs_inodes_free",
       G,
       "Free inodes of the filesystem holding the writable layer.",
       {}},
      {"diskIO", "container_fs_reads_bytes_total", C, "Bytes read from block devices (all devices).", {}},
      {"diskIO", "container_fs_reads_total", C, "Reads completed on block devices (all devices).", {}},
      {"diskIO", "container_fs_writes_bytes_total", C, "Bytes written to block devices (all devices).", {}},
      {"diskIO", "container_fs_writes_total", C, "Writes completed on block devices (all devices).", {}},
      {"hugetlb", "container_hugetlb_usage_bytes", G, "Huge page usage, in bytes.", {"pagesize"}},
      {"hugetlb",
       "container_hugetlb_max_usage_bytes",
       G,
       "Highest huge page usage recorded, in bytes.",
       {"pagesize"}},
      {"oom", "container_oom_events_total", C, "Processes of the cgroup killed by the OOM killer.", {}},
      {"process", "container_processes", G, "Processes in the cgroup.", {}},
      {"process", "container_threads", G, "Tasks (threads) in the cgroup.", {}},
      {"process", "container_threads_max", G, "Most tasks the cgroup may hold; 0 means unlimited.", {}},
      {"process", "container_file_descriptors", G, "Open file descriptors of the cgroup's processes.", {}},
      {"process", "container_sockets", G, "Open sockets of the cgroup's processes.", {}},
      {"spec", "container_spec_cpu_period", G, "CFS period of the CPU limit, in microseconds.", {}},
      {"spec", "container_spec_cpu_quota", G, "CFS quota of the CPU limit, in microseconds per period.", {}},
      {"spec", "container_spec_cpu_shares", G, "CPU shares.", {}},
      {"spec", "container_spec_memory_limit_bytes", G, "Memory limit, in bytes.", {}},
      {"spec", "container_spec_memory_swap_limit_bytes", G, "Memory plus swap limit, in bytes.", {}},
      {"spec",
       "container_start_time_seconds",
       G,
       "Start time of the container, in seconds since the epoch.",
       {}},
      {"pressure",
       "container_pressure_cpu_waiting_seconds_total",
       C,
       "Time some tasks waited for CPU (PSI some), in seconds.",
       {}},
      {"pressure",
       "container_pressure_cpu_stalled_seconds_total",
       C,
       "Time no task could run for lack of CPU (PSI full), in seconds.",
       {}},
      {"pressure",
       "container_pressure_memory_waiting_seconds_total",
       C,
       "Time some tasks waited for memory (PSI some), in seconds.",
       {}},
      {"pressure",
       "container_pressure_memory_stalled_seconds_total",
       C,
       "Time no task could run for lack of memory (PSI full), in seconds.",
       {}},
      {"pressure",
       "container_pressure_io_waiting_seconds_total",
       C,
       "Time some tasks waited for I/O (PSI some), in seconds.",
       {}},
      {"pressure",
       "container_pressure_io_stalled_seconds_total",
       C,
       "Time no task could run for lack of I/O (PSI full), in seconds.",
       {}},
  };
  return defs;
}

const MetricDef* FindDef(std::string_view name) {
  static const std::map<std::string_view, const MetricDef*> index = [] {
    std::map<std::string_view, const MetricDef*> m;
    for (const MetricDef& d : Defs()) m[d.name] = &d;
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

uint64_t Seconds(uint64_t ns) { return ns / 1'000'000'000; }

// Appends metrics of one source; a name outside `groups` is skipped.
class Emitter {
 public:
  Emitter(const std::set<std::string>& groups, const std::array<std::string, 5>& labels,
          google::protobuf::RepeatedPtrField<v1::Metric>* out)
      : groups_(groups), labels_(labels), out_(out) {}

  bool On(std::string_view group) const { return groups_.contains(std::string(group)); }

  void Add(std::string_view name, uint64_t value, std::vector<std::string> extra = {}) {
    const MetricDef* def = FindDef(name);
    if (def == nullptr || def->labels.size() != extra.size()) return;  // a table mistake: caught by tests
    if (!def->group.empty() && !On(def->group)) return;
    v1::Metric* m = out_->Add();
    m->set_name(std::string(name));
    m->set_metric_type(def->type);
    for (const std::string& l : labels_) m->add_label_values(l);
    for (std::string& l : extra) m->add_label_values(std::move(l));
    m->mutable_value()->set_value(value);
  }

 private:
  const std::set<std::string>& groups_;
  const std::array<std::string, 5>& labels_;
  google::protobuf::RepeatedPtrField<v1::Metric>* out_;
};

void AppendCgroup(const cgroups::Stats& st, Emitter& e) {
  if (const auto& cpu = st.cpu) {
    e.Add("container_cpu_user_seconds_total", Seconds(cpu->user_ns));
    e.Add("container_cpu_system_seconds_total", Seconds(cpu->system_ns));
    e.Add("container_cpu_usage_seconds_total", Seconds(cpu->usage_ns), {"total"});
    e.Add("container_cpu_cfs_periods_total", cpu->periods);
    e.Add("container_cpu_cfs_throttled_periods_total", cpu->throttled_periods);
    e.Add("container_cpu_cfs_throttled_seconds_total", Seconds(cpu->throttled_ns));
  }
  if (const auto& mem = st.memory) {
    e.Add("container_memory_cache", mem->cache);
    e.Add("container_memory_rss", mem->rss);
    e.Add("container_memory_swap", mem->swap);
    e.Add("container_memory_failcnt", mem->failcnt);
    e.Add("container_memory_usage_bytes", mem->usage);
    e.Add("container_memory_max_usage_bytes", mem->max_usage);
    e.Add("container_memory_working_set_bytes", mem->working_set);
    e.Add("container_memory_failures_total", mem->page_faults, {"pgfault", "container"});
    e.Add("container_memory_failures_total", mem->major_page_faults, {"pgmajfault", "container"});
    e.Add("container_oom_events_total", mem->oom_kills);
  }
  if (const auto& io = st.io) {
    e.Add("container_fs_reads_bytes_total", io->read_bytes);
    e.Add("container_fs_reads_total", io->read_ops);
    e.Add("container_fs_writes_bytes_total", io->write_bytes);
    e.Add("container_fs_writes_total", io->write_ops);
  }
  for (const auto& [pagesize, h] : st.hugetlb) {
    e.Add("container_hugetlb_usage_bytes", h.usage, {pagesize});
    e.Add("container_hugetlb_max_usage_bytes", h.max_usage, {pagesize});
  }
  if (const auto& pids = st.pids) {
    e.Add("container_threads", pids->current);
    e.Add("container_threads_max", pids->limit.value_or(0));
  }
}

void AppendSpec(const v1::LinuxContainerResources& r, Emitter& e) {
  if (r.cpu_period() > 0) e.Add("container_spec_cpu_period", static_cast<uint64_t>(r.cpu_period()));
  if (r.cpu_quota() > 0) e.Add("container_spec_cpu_quota", static_cast<uint64_t>(r.cpu_quota()));
  if (r.cpu_shares() > 0) e.Add("container_spec_cpu_shares", static_cast<uint64_t>(r.cpu_shares()));
  if (r.memory_limit_in_bytes() > 0) {
    e.Add("container_spec_memory_limit_bytes", static_cast<uint64_t>(r.memory_limit_in_bytes()));
  }
  if (r.memory_swap_limit_in_bytes() > 0) {
    e.Add("container_spec_memory_swap_limit_bytes", static_cast<uint64_t>(r.memory_swap_limit_in_bytes()));
  }
}

}  // namespace

std::set<std::string> ExpandMetricGroups(const std::vector<std::string>& configured) {
  std::set<std::string> out;
  for (const std::string& g : configured) {
    if (g == "all") {
      for (std::string_view all : kPodMetricGroups) out.insert(std::string(all));
    } else {
      out.insert(g);
    }
  }
  return out;
}

std::vector<v1::MetricDescriptor> MetricDescriptors(const std::set<std::string>& groups) {
  std::vector<v1::MetricDescriptor> out;
  for (const MetricDef& d : Defs()) {
    if (!d.group.empty() && !groups.contains(std::string(d.group))) continue;
    v1::MetricDescriptor& m = out.emplace_back();
    m.set_name(std::string(d.name));
    m.set_help(std::string(d.help));
    for (std::string_view l : kBaseLabels) m.add_label_keys(std::string(l));
    for (std::string_view l : d.labels) m.add_label_keys(std::string(l));
  }
  return out;
}

std::optional<PressureTotals> ParsePressure(std::string_view text) {
  PressureTotals t;
  bool some = false;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> f = Split(TrimSpace(line), ' ');
    if (f.empty() || (f[0] != "some" && f[0] != "full")) continue;
    for (std::string_view kv : f) {
      if (!kv.starts_with("total=")) continue;
      auto v = ParseUint64(kv.substr(6));
      if (!v) return std::nullopt;
      (f[0] == "some" ? t.some_us : t.full_us) = *v;
      some = some || f[0] == "some";
    }
  }
  if (!some) return std::nullopt;
  return t;
}

void AppendMetrics(const std::set<std::string>& groups, const MetricSource& src, int64_t now_ns,
                   google::protobuf::RepeatedPtrField<v1::Metric>* out) {
  Emitter e(groups, src.labels, out);
  e.Add("container_last_seen", static_cast<uint64_t>(now_ns / 1'000'000'000));
  if (src.cgroup) AppendCgroup(*src.cgroup, e);
  if (src.interfaces) {
    for (const InterfaceCounters& i : *src.interfaces) {
      if (i.name == "lo") continue;  // as kubelet's network stats
      e.Add("container_network_receive_bytes_total", i.rx_bytes, {i.name});
      e.Add("container_network_receive_packets_total", i.rx_packets, {i.name});
      e.Add("container_network_receive_packets_dropped_total", i.rx_dropped, {i.name});
      e.Add("container_network_receive_errors_total", i.rx_errors, {i.name});
      e.Add("container_network_transmit_bytes_total", i.tx_bytes, {i.name});
      e.Add("container_network_transmit_packets_total", i.tx_packets, {i.name});
      e.Add("container_network_transmit_packets_dropped_total", i.tx_dropped, {i.name});
      e.Add("container_network_transmit_errors_total", i.tx_errors, {i.name});
    }
  }
  if (src.fs) {
    e.Add("container_fs_usage_bytes", src.fs->used_bytes);
    e.Add("container_fs_limit_bytes", src.fs->capacity_bytes);
    e.Add("container_fs_inodes_total", src.fs->inodes_total);
    e.Add("container_fs_inodes_free", src.fs->inodes_free);
  }
  if (src.processes) {
    e.Add("container_processes", src.processes->processes);
    e.Add("container_file_descriptors", src.processes->file_descriptors);
    e.Add("container_sockets", src.processes->sockets);
  }
  if (src.spec) AppendSpec(*src.spec, e);
  if (src.started_at > 0)
    e.Add("container_start_time_seconds", static_cast<uint64_t>(src.started_at / 1'000'000'000));
  auto pressure = [&](const std::optional<PressureTotals>& p, std::string_view resource) {
    if (!p) return;
    e.Add(StrCat("container_pressure_", resource, "_waiting_seconds_total"), p->some_us / 1'000'000);
    e.Add(StrCat("container_pressure_", resource, "_stalled_seconds_total"), p->full_us / 1'000'000);
  };
  pressure(src.cpu_pressure, "cpu");
  pressure(src.memory_pressure, "memory");
  pressure(src.io_pressure, "io");
}

// ---------------------------------------------------------------------------------------------------
// CriRuntime: reading the sources.

namespace {

// Processes, descriptors and sockets of `pids` (processes gone meanwhile are skipped).
ProcessFigures CountProcesses(const std::vector<pid_t>& pids) {
  ProcessFigures f;
  for (pid_t pid : pids) {
    std::string fd_dir = StrCat("/proc/", pid, "/fd");
    auto fds = ListDir(fd_dir);
    if (!fds.ok()) continue;
    ++f.processes;
    f.file_descriptors += fds->size();
    for (const std::string& fd : *fds) {
      char target[64];
      ssize_t n = ::readlink(JoinPath(fd_dir, fd).c_str(), target, sizeof(target) - 1);
      if (n > 0 && std::string_view(target, static_cast<size_t>(n)).starts_with("socket:")) ++f.sockets;
    }
  }
  return f;
}

// Reads what the selected groups need from the cgroup at `path` into `src`.
void ReadCgroupExtras(const std::set<std::string>& groups, const std::optional<cgroups::Layout>& layout,
                      const std::optional<cgroups::CgroupPath>& path, MetricSource& src) {
  if (!layout || !path || (!groups.contains("process") && !groups.contains("pressure"))) return;
  auto manager = cgroups::Manager::Open(*layout, *path);
  if (!manager.ok()) return;
  if (groups.contains("process")) {
    if (auto pids = manager->Pids(); pids.ok()) src.processes = CountProcesses(*pids);
  }
  if (groups.contains("pressure")) {
    const cgroups::CgroupDir* unified = cgroups::FindUnified(manager->dirs());
    if (unified == nullptr) return;
    auto read = [&](const char* file) -> std::optional<PressureTotals> {
      auto text = ReadFile(JoinPath(unified->dir, file), 4096);
      return text.ok() ? ParsePressure(*text) : std::nullopt;
    };
    src.cpu_pressure = read("cpu.pressure");
    src.memory_pressure = read("memory.pressure");
    src.io_pressure = read("io.pressure");
  }
}

}  // namespace

absl::Status CriRuntime::ListMetricDescriptors(v1::ListMetricDescriptorsResponse* resp) {
  for (v1::MetricDescriptor& d :
       MetricDescriptors(ExpandMetricGroups(config_.Get()->stats.included_pod_metrics))) {
    *resp->add_descriptors() = std::move(d);
  }
  return absl::OkStatus();
}

absl::Status CriRuntime::PodSandboxMetrics(const std::string& id, v1::PodSandboxMetrics* out) {
  ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> sandbox, state_.FindSandbox(id));
  if (!sandbox->IsCommitted()) return absl::NotFoundError(StrCat("pod sandbox \"", id, "\" not found"));
  SandboxRecord s = sandbox->Snapshot();
  std::set<std::string> groups = ExpandMetricGroups(config_.Get()->stats.included_pod_metrics);
  StatsCollector collector(*this);
  int64_t now = RealtimeNow();
  out->set_pod_sandbox_id(s.id);
  const v1::PodSandboxMetadata& md = s.config.metadata();

  std::optional<FsFigures> fs_base;
  if (groups.contains("disk")) {
    struct statvfs vfs;
    std::string dir = JoinPath(store_->root(), "overlay-containers");
    if (::statvfs(dir.c_str(), &vfs) == 0) {
      fs_base = FsFigures{.capacity_bytes = uint64_t{vfs.f_blocks} * vfs.f_frsize,
                          .inodes_total = vfs.f_files,
                          .inodes_free = vfs.f_ffree};
    }
  }
  std::vector<cgroups::Stats> member_stats;
  for (const auto& container : state_.ContainersOf(s.id)) {
    if (!container->IsCommitted()) continue;
    ContainerRecord c = container->Snapshot();
    if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) continue;
    MetricSource src;
    src.labels = {c.id, c.image_name, md.namespace_(), md.name(), c.config.metadata().name()};
    if (auto st = collector.RuntimeStats(c.runtime_handler, c.id); st.ok()) {
      member_stats.push_back(*st);
      src.cgroup = *std::move(st);
    }
    if (fs_base) {
      if (auto usage = store_->ContainerUsage(c.id); usage.ok()) {
        src.fs = *fs_base;
        src.fs->used_bytes = usage->bytes;
        src.fs->inodes_used = usage->inodes;
      }
    }
    src.spec = c.config.linux().resources();
    src.started_at = c.started_at;
    ReadCgroupExtras(groups, host_.cgroup_layout, collector.MemberCgroup(s.cgroup_parent, c.id), src);
    v1::ContainerMetrics* cm = out->add_container_metrics();
    cm->set_container_id(c.id);
    AppendMetrics(groups, src, now, cm->mutable_metrics());
  }
  if (s.state != SandboxState::kReady) return absl::OkStatus();  // a stopped pod has no pod-level figures
  MetricSource pod;
  pod.labels = {s.id, "", md.namespace_(), md.name(), "POD"};
  pod.cgroup = collector.PodCgroupStats(s, member_stats);
  pod.interfaces = collector.PodInterfaces(s);
  if (s.pod_resources) pod.spec = *s.pod_resources;
  ReadCgroupExtras(groups, host_.cgroup_layout, collector.PodCgroup(s), pod);
  AppendMetrics(groups, pod, now, out->mutable_metrics());
  return absl::OkStatus();
}

absl::Status CriRuntime::ListPodSandboxMetrics(v1::ListPodSandboxMetricsResponse* resp) {
  for (const auto& sandbox : state_.Sandboxes()) {
    if (!sandbox->IsCommitted()) continue;
    SandboxRecord s = sandbox->Snapshot();
    if (s.state != SandboxState::kReady) continue;  // as ListPodSandboxStats: running pods only
    const std::string& id = s.id;
    v1::PodSandboxMetrics m;
    absl::Status st = PodSandboxMetrics(id, &m);
    if (absl::IsNotFound(st)) continue;  // removed meanwhile
    RETURN_IF_ERROR(st);
    *resp->add_pod_metrics() = std::move(m);
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
