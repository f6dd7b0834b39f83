// StatsCollector reads the statistics behind the CRI stats RPCs (stats_ops.cc) and the CRI metrics
// (cri_metrics.cc) from one set of sources, so the two agree: each container's cgroup through its
// runtime, the pod's cgroup (or the sum of its members' when it has no cgroup parent), the counters of
// the pod's network namespace, the writable layer's usage. A friend of CriRuntime, so that it reaches
// the runtimes, the store, the host facts and the CPU rate tracker. One collector per RPC call.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/runtime/cgroups/cgroup_path.h"
#include "lib/runtime/cgroups/stats.h"
#include "runtime/v1/api.pb.h"
#include "server/config.h"
#include "server/records.h"
#include "server/usage_stats.h"

namespace cricket::server {

class CriRuntime;

class StatsCollector {
 public:
  explicit StatsCollector(CriRuntime& rt);

  // List calls: a container's reading that any stats call took less than a second before is handed
  // out again, with the timestamps of when it was taken (CriRuntime::container_readings_). kubelet's
  // stats provider asks ListPodSandboxStats and ListContainerStats back to back; single-object calls
  // (ContainerStats, PodSandboxStats) always read.
  void ReuseRecentReadings() { reuse_recent_ = true; }

  // Returns the cgroup statistics it read (none for a container that is not running).
  std::optional<cgroups::Stats> Container(const ContainerRecord& c, ::runtime::v1::ContainerStats* out);
  void Pod(const SandboxRecord& s, ::runtime::v1::PodSandboxStats* out);
  // Drops the remembered CPU readings of containers and pods that no longer exist.
  void ForgetGone();

  // The raw sources.
  // The CRI's statistics (Container, Pod) read cgroups::StatsParts::CpuMemoryPids(); metrics all.
  absl::StatusOr<cgroups::Stats> RuntimeStats(const std::string& handler, const std::string& id,
                                              const cgroups::StatsParts& parts = {});
  // A container's cgroup statistics, read from the cgroup its spec named (through the runtime as a
  // fallback).
  absl::StatusOr<cgroups::Stats> ContainerCgroupStats(const ContainerRecord& c,
                                                      const cgroups::StatsParts& parts = {});
  // The pod's cgroup (see stats_ops.cc); nullopt without a cgroup parent.
  std::optional<cgroups::CgroupPath> PodCgroup(const SandboxRecord& s) const;
  // The cgroup the runtime made for a container (or the infra, id = sandbox id) of a pod with
  // `cgroup_parent`.
  std::optional<cgroups::CgroupPath> MemberCgroup(const std::string& cgroup_parent,
                                                  const std::string& id) const;
  cgroups::Stats PodCgroupStats(const SandboxRecord& s, const std::vector<cgroups::Stats>& containers,
                                const cgroups::StatsParts& parts = {});
  // The interfaces of the pod's network namespace; nullopt for a host-network or stopped pod.
  std::optional<std::vector<InterfaceCounters>> PodInterfaces(const SandboxRecord& s);

 private:
  std::optional<cgroups::Stats> ReadContainer(const ContainerRecord& c, ::runtime::v1::ContainerStats* out);
  void FillCpuMemory(const cgroups::Stats& st, const std::string& key, ::runtime::v1::CpuUsage* cpu,
                     ::runtime::v1::MemoryUsage* mem);
  void FillNetwork(const SandboxRecord& s, ::runtime::v1::NetworkUsage* out);

  CriRuntime& rt_;
  bool reuse_recent_ = false;
  std::shared_ptr<const Config> cfg_;
};

}  // namespace cricket::server
