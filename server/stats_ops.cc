// ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats.
//
// Statistics are read when asked (kubelet asks every few seconds), never collected in the background:
// a container's cgroup (cpu, memory with working set, swap), its writable layer (the overlay upper
// directory), and for a pod its cgroup, its process count and the counters of its network namespace
// (/proc/<infra pid>/net/dev). usage_nano_cores comes from the previous reading (usage_stats.h).
//
// The pod's cgroup is the sandbox's cgroup parent (kubelet's pod-level cgroup, e.g.
// /kubepods/burstable/pod<uid>, which holds the infra container and every container of the pod).
// Without a parent each container has its own cgroup under cricket's default one, shared by all
// pods, so the pod's figures are the sums of its infra container's and its containers' cgroups.
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/runtime/cgroups/manager.h"
#include "lib/sys/namespace_pin.h"
#include "lib/sys/pidfd.h"
#include "server/container_spec.h"
#include "server/cri_runtime.h"
#include "server/stats_collector.h"
#include "server/usage_stats.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

constexpr char kComponent[] = "stats";
// The interface CNI plugins create in the pod's network namespace (CNI_IFNAME; kubelet's default).
constexpr char kPodInterface[] = "eth0";

bool MatchesLabels(const google::protobuf::Map<std::string, std::string>& selector,
                   const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::string PodKey(const std::string& sandbox_id) { return "pod/" + sandbox_id; }

}  // namespace

StatsCollector::StatsCollector(CriRuntime& rt) : rt_(rt), cfg_(rt.config_.Get()) {}

absl::StatusOr<cgroups::Stats> StatsCollector::RuntimeStats(const std::string& handler, const std::string& id,
                                                            const cgroups::StatsParts& parts) {
  ASSIGN_OR_RETURN(runtime::Runtime * r, rt_.RuntimeFor(handler));
  return r->Stats(id, parts);
}

void StatsCollector::FillCpuMemory(const cgroups::Stats& st, const std::string& key, v1::CpuUsage* cpu,
                                   v1::MemoryUsage* mem) {
  int64_t now = RealtimeNow();
  if (st.cpu) {
    std::optional<uint64_t> rate = rt_.cpu_rates_.Update(key, {MonotonicNow(), st.cpu->usage_ns});
    FillCpuUsage(*st.cpu, rate, now, cpu);
  }
  if (st.memory) FillMemoryUsage(*st.memory, now, mem);
}

absl::StatusOr<cgroups::Stats> StatsCollector::ContainerCgroupStats(const ContainerRecord& c,
                                                                    const cgroups::StatsParts& parts) {
  // The container's cgroup is where its spec put it (CgroupsPath of its pod's parent): read there
  // directly rather than through the runtime, which would load the container's state from disk first.
  // Anything unexpected (the cgroup driver changed since, no pod) goes through the runtime.
  std::shared_ptr<Sandbox> sb = rt_.state_.GetSandbox(c.sandbox_id);
  if (sb && rt_.host_.cgroup_layout) {
    std::string parent;
    {
      absl::MutexLock l(&sb->mu);
      parent = sb->record.cgroup_parent;
    }
    if (auto path = MemberCgroup(parent, c.id)) {
      if (auto manager = cgroups::Manager::Open(*rt_.host_.cgroup_layout, *path); manager.ok()) {
        if (auto st = manager->GetStats(parts); st.ok()) return st;
      }
    }
  }
  return RuntimeStats(c.runtime_handler, c.id, parts);
}

std::optional<cgroups::Stats> StatsCollector::Container(const ContainerRecord& c, v1::ContainerStats* out) {
  const int64_t now = MonotonicNow();
  const int tag = static_cast<int>(c.state);
  if (!reuse_recent_) {
    // Single-object calls always read.
  } else if (auto recent = rt_.container_readings_.Get(c.id, now, tag)) {
    *out = std::move(recent->stats);
    return std::move(recent->cgroup);
  }
  std::optional<cgroups::Stats> read = ReadContainer(c, out);
  rt_.container_readings_.Put(c.id, now, tag, CriRuntime::ContainerReading{*out, read});
  return read;
}

std::optional<cgroups::Stats> StatsCollector::ReadContainer(const ContainerRecord& c,
                                                            v1::ContainerStats* out) {
  v1::ContainerAttributes* a = out->mutable_attributes();
  a->set_id(c.id);
  *a->mutable_metadata() = c.config.metadata();
  *a->mutable_labels() = c.config.labels();
  *a->mutable_annotations() = c.config.annotations();
  std::optional<cgroups::Stats> read;
  if (c.state == ContainerState::kRunning || c.state == ContainerState::kCreated) {
    auto st = ContainerCgroupStats(c, cgroups::StatsParts::CpuMemoryPids());
    if (st.ok()) {
      FillCpuMemory(*st, c.id, out->mutable_cpu(), out->mutable_memory());
      if (st->memory) {
        out->mutable_swap()->set_timestamp(RealtimeNow());
        out->mutable_swap()->mutable_swap_usage_bytes()->set_value(st->memory->swap);
      }
      read = std::move(*st);
    } else {
      // It may have exited since the record was read; the next call shows it exited.
      log::Debug(kComponent, "no cgroup statistics", {{"id", c.id}, {"error", ToStd(st.status().message())}});
    }
  }
  if (auto usage = rt_.store_->ContainerUsage(c.id); usage.ok()) {
    v1::FilesystemUsage* fs = out->mutable_writable_layer();
    fs->set_timestamp(RealtimeNow());
    // The same filesystem ImageFsInfo reports as container_filesystems, so kubelet can match them.
    fs->mutable_fs_id()->set_mountpoint(JoinPath(rt_.store_->root(), "overlay-containers"));
    fs->mutable_used_bytes()->set_value(usage->bytes);
    fs->mutable_inodes_used()->set_value(usage->inodes);
  } else {
    log::Debug(kComponent, "no writable layer usage",
               {{"id", c.id}, {"error", ToStd(usage.status().message())}});
  }
  return read;
}

std::optional<cgroups::CgroupPath> StatsCollector::MemberCgroup(const std::string& cgroup_parent,
                                                                const std::string& id) const {
  const std::string& manager = cfg_->runtime.cgroup_manager;
  auto driver = cgroups::ParseDriver(manager);
  if (!driver.ok()) return std::nullopt;
  auto path = cgroups::ParseCgroupsPath(*driver, CgroupsPath(manager, cgroup_parent, id), id);
  if (!path.ok()) return std::nullopt;
  return *std::move(path);
}

std::optional<cgroups::CgroupPath> StatsCollector::PodCgroup(const SandboxRecord& s) const {
  if (s.cgroup_parent.empty()) return std::nullopt;
  // The infra container's cgroup as the runtime placed it; the pod's is its parent.
  auto infra = MemberCgroup(s.cgroup_parent, s.id);
  if (!infra) return std::nullopt;
  std::string parent = DirName(infra->path);
  if (parent.empty() || parent == "/" || parent == ".") return std::nullopt;  // never the root cgroup
  return cgroups::CgroupPath{parent, infra->relative};
}

cgroups::Stats StatsCollector::PodCgroupStats(const SandboxRecord& s,
                                              const std::vector<cgroups::Stats>& containers,
                                              const cgroups::StatsParts& parts) {
  if (auto path = PodCgroup(s); path && rt_.host_.cgroup_layout) {
    auto manager = cgroups::Manager::Open(*rt_.host_.cgroup_layout, *path);
    if (manager.ok()) {
      auto st = manager->GetStats(parts);
      if (st.ok()) return *st;
      log::Debug(kComponent, "no pod cgroup statistics",
                 {{"id", s.id}, {"cgroup", path->path}, {"error", ToStd(st.status().message())}});
    }
  }
  std::vector<cgroups::Stats> sum = containers;
  if (auto infra = RuntimeStats(s.runtime_handler, s.id, parts); infra.ok()) sum.push_back(*std::move(infra));
  return SumStats(sum);
}

std::optional<std::vector<InterfaceCounters>> StatsCollector::PodInterfaces(const SandboxRecord& s) {
  if (s.netns_path.empty()) return std::nullopt;  // host network: not the pod's
  // Any process of the pod is in its network namespace: its /proc/<pid>/net/dev is the pod's (read
  // while its pidfd shows it alive, so never a reused pid's). Without one (no infra, no running
  // container), a thread enters the pinned namespace to read it.
  std::vector<sys::ProcessIdentity> members;
  if (s.infra_pid > 0) members.push_back({s.infra_pid, s.infra_start_time});
  for (const auto& c : rt_.state_.ContainersOf(s.id)) {
    ContainerRecord r = c->Snapshot();
    if (r.state == ContainerState::kRunning && r.pid > 0) members.push_back({r.pid, r.start_time});
  }
  absl::StatusOr<std::string> text = absl::NotFoundError("no process of the pod");
  for (const sys::ProcessIdentity& m : members) {
    auto pidfd = sys::PidFd::OpenIdentity(m);
    if (!pidfd.ok()) continue;
    text = ReadFile(StrCat("/proc/", m.pid, "/net/dev"));
    if (text.ok() && !pidfd->Exited()) break;
    text = absl::NotFoundError("the process exited");
  }
  if (!text.ok()) {
    absl::Status st = sys::RunInNamespace(s.netns_path, sys::NamespaceType::kNet, [&]() -> absl::Status {
      text = ReadFile("/proc/thread-self/net/dev");
      return text.status();
    });
    if (!st.ok()) return std::nullopt;
  }
  auto interfaces = ParseNetDev(*text);
  if (!interfaces.ok()) {
    log::Warn(kComponent, "cannot parse net/dev",
              {{"id", s.id}, {"error", ToStd(interfaces.status().message())}});
    return std::nullopt;
  }
  return *std::move(interfaces);
}

void StatsCollector::FillNetwork(const SandboxRecord& s, v1::NetworkUsage* out) {
  if (auto interfaces = PodInterfaces(s)) FillNetworkUsage(*interfaces, kPodInterface, RealtimeNow(), out);
}

void StatsCollector::Pod(const SandboxRecord& s, v1::PodSandboxStats* out) {
  v1::PodSandboxAttributes* a = out->mutable_attributes();
  a->set_id(s.id);
  *a->mutable_metadata() = s.config.metadata();
  *a->mutable_labels() = s.config.labels();
  *a->mutable_annotations() = s.config.annotations();
  v1::LinuxPodSandboxStats* linux_stats = out->mutable_linux();
  std::vector<cgroups::Stats> container_stats;
  for (const auto& container : rt_.state_.ContainersOf(s.id)) {
    if (!container->IsCommitted()) continue;
    if (auto st = Container(container->Snapshot(), linux_stats->add_containers())) {
      container_stats.push_back(*std::move(st));
    }
  }
  if (s.state != SandboxState::kReady) return;  // stopped: no processes, no network
  cgroups::Stats st = PodCgroupStats(s, container_stats, cgroups::StatsParts::CpuMemoryPids());
  FillCpuMemory(st, PodKey(s.id), linux_stats->mutable_cpu(), linux_stats->mutable_memory());
  if (st.pids) {
    linux_stats->mutable_process()->set_timestamp(RealtimeNow());
    linux_stats->mutable_process()->mutable_process_count()->set_value(st.pids->current);
  }
  FillNetwork(s, linux_stats->mutable_network());
  if (linux_stats->network().timestamp() == 0) linux_stats->clear_network();
}

void StatsCollector::ForgetGone() {
  rt_.cpu_rates_.Retain([this](const std::string& key) {
    if (key.starts_with("pod/")) return rt_.state_.GetSandbox(key.substr(4)) != nullptr;
    return rt_.state_.GetContainer(key) != nullptr;
  });
  rt_.container_readings_.Retain(
      MonotonicNow(), [this](const std::string& key) { return rt_.state_.GetContainer(key) != nullptr; });
}

absl::Status CriRuntime::ContainerStats(const std::string& id, v1::ContainerStats* out) {
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, state_.FindContainer(id));
  if (!container->IsCommitted()) return absl::NotFoundError(StrCat("container \"", id, "\" not found"));
  StatsCollector collector(*this);
  collector.Container(container->Snapshot(), out);
  collector.ForgetGone();
  return absl::OkStatus();
}

absl::Status CriRuntime::ListContainerStats(const v1::ContainerStatsFilter& filter,
                                            v1::ListContainerStatsResponse* resp) {
  StatsCollector collector(*this);
  collector.ReuseRecentReadings();
  for (const auto& container : state_.Containers()) {
    if (!container->IsCommitted()) continue;
    ContainerRecord c = container->Snapshot();
    if (!filter.id().empty() && !c.id.starts_with(filter.id())) continue;
    if (!filter.pod_sandbox_id().empty() && !c.sandbox_id.starts_with(filter.pod_sandbox_id())) continue;
    if (!MatchesLabels(filter.label_selector(), c.config.labels())) continue;
    collector.Container(c, resp->add_stats());
  }
  collector.ForgetGone();
  return absl::OkStatus();
}

absl::Status CriRuntime::PodSandboxStats(const std::string& id, v1::PodSandboxStats* out) {
  ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> sandbox, state_.FindSandbox(id));
  if (!sandbox->IsCommitted()) return absl::NotFoundError(StrCat("pod sandbox \"", id, "\" not found"));
  StatsCollector collector(*this);
  collector.Pod(sandbox->Snapshot(), out);
  collector.ForgetGone();
  return absl::OkStatus();
}

absl::Status CriRuntime::ListPodSandboxStats(const v1::PodSandboxStatsFilter& filter,
                                             v1::ListPodSandboxStatsResponse* resp) {
  StatsCollector collector(*this);
  collector.ReuseRecentReadings();
  for (const auto& sandbox : state_.Sandboxes()) {
    if (!sandbox->IsCommitted()) continue;
    SandboxRecord s = sandbox->Snapshot();
    // Only running pods have statistics to list (a stopped pod is still answered by PodSandboxStats).
    if (s.state != SandboxState::kReady) continue;
    if (!filter.id().empty() && !s.id.starts_with(filter.id())) continue;
    if (!MatchesLabels(filter.label_selector(), s.config.labels())) continue;
    collector.Pod(s, resp->add_stats());
  }
  collector.ForgetGone();
  return absl::OkStatus();
}

}  // namespace cricket::server
