#include "server/metrics/daemon_metrics.h"

#include <algorithm>

#include "absl/status/status.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::metrics {

namespace {

// Latency buckets in seconds: from a status call (~1 ms) to a large pull (minutes).
const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,    5,     10,   30,    60,   120, 300};

std::string_view OperationName(std::string_view method) {
  size_t slash = method.rfind('/');
  return slash == std::string_view::npos ? method : method.substr(slash + 1);
}

}  // namespace

const std::vector<std::string>& ServedCollectors() {
  static const std::vector<std::string> names = {
      "operations_total",
      "operations_latency_seconds",
      "operations_latency_seconds_total",
      "operations_errors_total",
      "image_pulls_bytes_total",
      "image_pulls_success_total",
      "image_pulls_failure_total",
      "image_layer_reuse_total",
      "containers_oom_total",
      "containers_oom_count_total",
      "processes_defunct",
      "containers_events_dropped_total",
      "containers_events_subscribers_dropped_total",
      "containers_events_subscribers",
      "uptime_seconds",
      "default_runtime",
  };
  return names;
}

const std::vector<std::string>& UnservedCriOCollectors() {
  static const std::vector<std::string> names = {
      "image_pulls_layer_size",
      "image_pulls_skipped_bytes_total",
      "containers_seccomp_notifier_count_total",
      "resources_stalled_at_stage",
      "containers_stopped_monitor_count",
  };
  return names;
}

std::string StripCollectorPrefix(std::string_view name) {
  for (std::string_view prefix : {"container_runtime_", "crio_", "cricket_"}) {
    if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  }
  return std::string(name);
}

DaemonMetrics::DaemonMetrics(const std::vector<std::string>& collectors, const std::string& default_runtime)
    : start_ns_(RealtimeNow()) {
  for (const std::string& c : collectors) enabled_.push_back(StripCollectorPrefix(c));
  using T = MetricType;
  operations_ = Add("operations_total", T::kCounter, "Cumulative number of CRI operations by operation.",
                    {"operation"});
  latency_ = Add("operations_latency_seconds", T::kGauge,
                 "Latency in seconds of the last CRI call of each operation.", {"operation"});
  latency_total_ = Add("operations_latency_seconds_total", T::kHistogram,
                       "Latency in seconds of CRI operations, by operation (a histogram).", {"operation"},
                       kLatencyBuckets);
  errors_ = Add("operations_errors_total", T::kCounter,
                "Cumulative number of CRI operations that failed, by operation and gRPC status code.",
                {"operation", "code"});
  pull_bytes_ =
      Add("image_pulls_bytes_total", T::kCounter, "Compressed layer bytes downloaded by image pulls.");
  pull_success_ = Add("image_pulls_success_total", T::kCounter, "Image pulls that succeeded.");
  pull_failure_ =
      Add("image_pulls_failure_total", T::kCounter, "Image pulls that failed, by status code.", {"error"});
  layer_reuse_ = Add("image_layer_reuse_total", T::kCounter,
                     "Image layers found in the store instead of being downloaded.");
  oom_total_ =
      Add("containers_oom_total", T::kCounter, "Containers killed because they ran out of memory (OOM).");
  oom_count_ = Add("containers_oom_count_total", T::kCounter,
                   "Containers killed because they ran out of memory (OOM), by container name.", {"name"});
  defunct_ = Add("processes_defunct", T::kGauge, "Defunct (zombie) processes on the node.");
  events_dropped_ =
      Add("containers_events_dropped_total", T::kCounter,
          "Container events not delivered because their subscriber fell behind and was dropped.");
  subscribers_dropped_ = Add("containers_events_subscribers_dropped_total", T::kCounter,
                             "GetContainerEvents subscribers dropped because their queue overflowed.");
  subscribers_ = Add("containers_events_subscribers", T::kGauge, "GetContainerEvents streams open now.");
  uptime_ = Add("uptime_seconds", T::kGauge, "Seconds since cricketd started.");
  default_runtime_ =
      Add("default_runtime", T::kGauge, "The default runtime handler; the value is always 1.", {"runtime"});
  if (default_runtime_) default_runtime_->Set({default_runtime}, 1);
  if (pull_bytes_) pull_bytes_->Add({}, 0);
  if (pull_success_) pull_success_->Add({}, 0);
  if (layer_reuse_) layer_reuse_->Add({}, 0);
  if (oom_total_) oom_total_->Add({}, 0);
  registry_.AddCollectHook([this] {
    if (uptime_) uptime_->Set({}, static_cast<double>(RealtimeNow() - start_ns_) / 1e9);
    if (defunct_) defunct_->Set({}, static_cast<double>(CountDefunctProcesses()));
  });
}

Family* DaemonMetrics::Add(std::string_view collector, MetricType type, std::string_view help,
                           std::vector<std::string> labels, std::vector<double> buckets) {
  if (std::find(enabled_.begin(), enabled_.end(), collector) == enabled_.end()) return nullptr;
  return registry_.Add(StrCat(kMetricPrefix, collector), std::string(help), type, std::move(labels),
                       std::move(buckets));
}

void DaemonMetrics::RecordOperation(std::string_view method, int code, int64_t duration_ns) {
  std::string op(OperationName(method));
  double seconds = static_cast<double>(duration_ns) / 1e9;
  if (operations_) operations_->Add({op}, 1);
  if (latency_) latency_->Set({op}, seconds);
  if (latency_total_) latency_total_->Observe({op}, seconds);
  if (errors_ && code != 0) {
    errors_->Add({op, std::string(ToStd(absl::StatusCodeToString(static_cast<absl::StatusCode>(code))))}, 1);
  }
}

void DaemonMetrics::RecordPullSuccess(int64_t bytes_fetched, int layers_reused) {
  if (pull_bytes_) pull_bytes_->Add({}, static_cast<double>(bytes_fetched));
  if (pull_success_) pull_success_->Add({}, 1);
  if (layer_reuse_) layer_reuse_->Add({}, layers_reused);
}

void DaemonMetrics::RecordPullFailure(std::string_view error) {
  if (pull_failure_) pull_failure_->Add({std::string(error)}, 1);
}

void DaemonMetrics::RecordOomKill(const std::string& container_name) {
  if (oom_total_) oom_total_->Add({}, 1);
  if (oom_count_) oom_count_->Add({container_name}, 1);
}

void DaemonMetrics::ForgetContainer(const std::string& container_name) {
  if (oom_count_) oom_count_->Remove({container_name});
}

void DaemonMetrics::SetEventCounters(uint64_t dropped_events, uint64_t dropped_subscribers,
                                     uint64_t subscribers) {
  if (events_dropped_) events_dropped_->Set({}, static_cast<double>(dropped_events));
  if (subscribers_dropped_) subscribers_dropped_->Set({}, static_cast<double>(dropped_subscribers));
  if (subscribers_) subscribers_->Set({}, static_cast<double>(subscribers));
}

int64_t CountDefunctProcesses(const std::string& proc) {
  auto entries = ListDir(proc);
  if (!entries.ok()) return 0;
  int64_t n = 0;
  for (const std::string& e : *entries) {
    if (!ParseInt64(e)) continue;
    auto stat = ReadFile(StrCat(proc, "/", e, "/stat"), 4096);
    if (!stat.ok()) continue;  // gone meanwhile
    // "pid (comm) S ...": the state follows the last ')' (comm may contain anything).
    size_t close = stat->rfind(')');
    if (close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z') ++n;
  }
  return n;
}

}  // namespace cricket::metrics
