// CRI metrics (ListMetricDescriptors, ListPodSandboxMetrics, StreamPodSandboxMetrics): what kubelet
// with PodAndContainerStatsFromCRI serves on /metrics/cadvisor instead of asking cAdvisor. The names
// are cAdvisor's (https://github.com/google/cadvisor/blob/master/docs/storage/prometheus.md), grouped
// as CRI-O groups them for [crio.stats] included_pod_metrics; the label keys are CRI-O's: id, image,
// namespace, pod, container, then the metric's own (cpu, interface, pagesize, failure_type, scope).
//
// Values come from the same sources as the CRI stats RPCs (stats_collector.h): each running
// container's cgroup, its writable layer, and, for the pod (container="POD", id = the sandbox id), the
// pod's cgroup and the interfaces of its network namespace. CRI carries integers, so seconds are
// whole seconds (truncated), as in CRI-O. Timestamps are 0: every value is read when asked
// (api.proto: "Timestamp should be 0 if the metric was gathered live").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/runtime/cgroups/stats.h"
#include "runtime/v1/api.pb.h"
#include "server/usage_stats.h"

namespace cricket::server {

// The groups of [crio.stats] included_pod_metrics (CRI-O's names); "all" selects every one.
inline constexpr std::array<std::string_view, 10> kPodMetricGroups = {
    "cpu", "memory", "network", "disk", "diskIO", "hugetlb", "oom", "process", "spec", "pressure"};

// The configured list as a set of group names ("all" expanded; unknown names were refused by the
// config's Validate).
std::set<std::string> ExpandMetricGroups(const std::vector<std::string>& configured);

// ListMetricDescriptors: container_last_seen, then every metric of the selected groups.
std::vector<::runtime::v1::MetricDescriptor> MetricDescriptors(const std::set<std::string>& groups);

// Pressure stall totals of a cgroup (cgroup v2 cpu/memory/io.pressure "total=" in microseconds).
struct PressureTotals {
  uint64_t some_us = 0;  // some task waited
  uint64_t full_us = 0;  // no task could make progress
};
// One *.pressure file: "some avg10=.. avg60=.. avg300=.. total=N" and an optional "full ..." line.
std::optional<PressureTotals> ParsePressure(std::string_view text);

struct FsFigures {
  uint64_t used_bytes = 0;
  uint64_t inodes_used = 0;
  uint64_t capacity_bytes = 0;  // of the filesystem holding the writable layers
  uint64_t inodes_total = 0;
  uint64_t inodes_free = 0;
};

struct ProcessFigures {
  uint64_t processes = 0;
  uint64_t file_descriptors = 0;
  uint64_t sockets = 0;
};

// Everything read for one container, or for the pod (pod-level figures).
struct MetricSource {
  // id, image, namespace, pod, container.
  std::array<std::string, 5> labels;
  std::optional<cgroups::Stats> cgroup;
  std::optional<std::vector<InterfaceCounters>> interfaces;  // the pod's
  std::optional<FsFigures> fs;
  std::optional<ProcessFigures> processes;
  std::optional<::runtime::v1::LinuxContainerResources> spec;
  int64_t started_at = 0;  // ns; 0: not started
  std::optional<PressureTotals> cpu_pressure, memory_pressure, io_pressure;
};

// Appends the metrics of the selected groups that `src` has figures for (none for a missing part).
// `now_ns` is container_last_seen.
void AppendMetrics(const std::set<std::string>& groups, const MetricSource& src, int64_t now_ns,
                   google::protobuf::RepeatedPtrField<::runtime::v1::Metric>* out);

}  // namespace cricket::server
