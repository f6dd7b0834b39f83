// cricketd's own Prometheus metrics: CRI-O's metric names (https://github.com/cri-o/cri-o, tutorials/
// metrics.md) with cricket's prefix, container_runtime_cricket_ instead of container_runtime_crio_, so
// CRI-O dashboards work after a rename. [crio.metrics] metrics_collectors selects them by CRI-O's
// collector names (without prefix; "crio_", "container_runtime_" and "cricket_" prefixes are accepted).
// The README lists them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/metrics/registry.h"

namespace cricket::metrics {

inline constexpr char kMetricPrefix[] = "container_runtime_cricket_";

// The collectors cricket serves, by name without prefix (the default of metrics_collectors).
const std::vector<std::string>& ServedCollectors();
// CRI-O collectors cricket does not serve: accepted in a config, with a warning at start.
const std::vector<std::string>& UnservedCriOCollectors();
// `name` without the prefixes a config may carry.
std::string StripCollectorPrefix(std::string_view name);

class DaemonMetrics {
 public:
  // `collectors`: the enabled ones (any accepted spelling); `default_runtime`: the default handler.
  DaemonMetrics(const std::vector<std::string>& collectors, const std::string& default_runtime);

  // One finished CRI call: `method` is the gRPC method ("/runtime.v1.RuntimeService/Version" or
  // "Version"), `code` the gRPC status code.
  void RecordOperation(std::string_view method, int code, int64_t duration_ns);
  void RecordPullSuccess(int64_t bytes_fetched, int layers_reused);
  void RecordPullFailure(std::string_view error);  // error: the status code's name
  // A container was OOM-killed / removed (its per-container series goes with it, as in CRI-O).
  void RecordOomKill(const std::string& container_name);
  void ForgetContainer(const std::string& container_name);
  // The container event counters (read at each scrape by a collect hook).
  void SetEventCounters(uint64_t dropped_events, uint64_t dropped_subscribers, uint64_t subscribers);

  Registry& registry() { return registry_; }
  std::string Render() const { return registry_.Render(); }

 private:
  Family* Add(std::string_view collector, MetricType type, std::string_view help,
              std::vector<std::string> labels = {}, std::vector<double> buckets = {});

  std::vector<std::string> enabled_;
  Registry registry_;
  Family* operations_ = nullptr;
  Family* latency_ = nullptr;
  Family* latency_total_ = nullptr;
  Family* errors_ = nullptr;
  Family* pull_bytes_ = nullptr;
  Family* pull_success_ = nullptr;
  Family* pull_failure_ = nullptr;
  Family* layer_reuse_ = nullptr;
  Family* oom_total_ = nullptr;
  Family* oom_count_ = nullptr;
  Family* defunct_ = nullptr;
  Family* events_dropped_ = nullptr;
  Family* subscribers_dropped_ = nullptr;
  Family* subscribers_ = nullptr;
  Family* uptime_ = nullptr;
  Family* default_runtime_ = nullptr;
  const int64_t start_ns_;
};

// Processes of the host in state Z (zombies nobody reaps), from /proc/<pid>/stat.
int64_t CountDefunctProcesses(const std::string& proc = "/proc");

}  // namespace cricket::metrics
