#include "server/metrics/daemon_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DaemonMetricsTest, OperationsLatencyAndErrorsPerRpc) {
  DaemonMetrics m(ServedCollectors(), "cricket");
  m.RecordOperation("/runtime.v1.RuntimeService/Version", 0, 2'000'000);
  m.RecordOperation("/runtime.v1.RuntimeService/Version", 0, 4'000'000);
  m.RecordOperation("/runtime.v1.RuntimeService/ContainerStatus", 5, 1'000'000);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE container_runtime_cricket_operations_total counter\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_operations_total{operation=\"Version\"} 2\n"));
  EXPECT_THAT(
      text, HasSubstr("container_runtime_cricket_operations_latency_seconds{operation=\"Version\"} 0.004\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE container_runtime_cricket_operations_latency_seconds_total histogram\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_operations_latency_seconds_total_bucket{operation="
                              "\"Version\",le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_operations_latency_seconds_total_count{operation="
                              "\"Version\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("container_runtime_cricket_operations_errors_total{operation=\"ContainerStatus\","
                        "code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("operations_errors_total{operation=\"Version\"")));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_default_runtime{runtime=\"cricket\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_uptime_seconds "));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_processes_defunct "));
}

TEST(DaemonMetricsTest, PullsOomsAndEvents) {
  DaemonMetrics m(ServedCollectors(), "cricket");
  EXPECT_THAT(m.Render(), HasSubstr("container_runtime_cricket_image_pulls_success_total 0\n"));
  m.RecordPullSuccess(1000, 2);
  m.RecordPullSuccess(500, 1);
  m.RecordPullFailure("NOT_FOUND");
  m.RecordOomKill("web_pod_1");
  m.RecordOomKill("web_pod_1");
  m.RecordOomKill("db_pod_1");
  m.SetEventCounters(7, 1, 3);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_image_pulls_bytes_total 1500\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_image_pulls_success_total 2\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_image_layer_reuse_total 3\n"));
  EXPECT_THAT(text,
              HasSubstr("container_runtime_cricket_image_pulls_failure_total{error=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_containers_oom_total 3\n"));
  EXPECT_THAT(text,
              HasSubstr("container_runtime_cricket_containers_oom_count_total{name=\"web_pod_1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_containers_events_dropped_total 7\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_containers_events_subscribers_dropped_total 1\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_containers_events_subscribers 3\n"));
  m.ForgetContainer("web_pod_1");
  EXPECT_THAT(m.Render(), Not(HasSubstr("name=\"web_pod_1\"")));
}

TEST(DaemonMetricsTest, CollectorsSelectFamiliesWithAnyPrefix) {
  DaemonMetrics m({"crio_operations_total", "container_runtime_cricket_containers_oom_total"}, "cricket");
  m.RecordOperation("Version", 0, 1000);
  m.RecordOomKill("x");
  m.RecordPullSuccess(10, 0);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_operations_total{operation=\"Version\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("container_runtime_cricket_containers_oom_total 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("latency")));
  EXPECT_THAT(text, Not(HasSubstr("image_pulls")));
  EXPECT_THAT(text, Not(HasSubstr("oom_count")));
  EXPECT_THAT(text, Not(HasSubstr("uptime")));
}

TEST(DaemonMetricsTest, StripCollectorPrefix) {
  EXPECT_EQ(StripCollectorPrefix("operations_total"), "operations_total");
  EXPECT_EQ(StripCollectorPrefix("crio_operations_total"), "operations_total");
  EXPECT_EQ(StripCollectorPrefix("container_runtime_crio_operations_total"), "operations_total");
  EXPECT_EQ(StripCollectorPrefix("container_runtime_cricket_operations_total"), "operations_total");
}

TEST(DaemonMetricsTest, CountsZombiesFromProcStat) {
  char tmpl[] = "/tmp/cricket-defunct-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string proc = tmpl;
  auto add = [&](const std::string& pid, const std::string& stat) {
    ASSERT_TRUE(MkdirAll(proc + "/" + pid).ok());
    ASSERT_TRUE(WriteFileAtomic(proc + "/" + pid + "/stat", stat).ok());
  };
  add("1", "1 (init) S 0 1 1 0");
  add("20", "20 (a) Z) Z 1 20 20 0");  // comm with ") Z": the state is after the last ')'
  add("21", "21 (sleep) Z 1 21 21 0");
  add("22", "22 (b) Z) R 1 22 22 0");
  ASSERT_TRUE(MkdirAll(proc + "/self").ok());
  EXPECT_EQ(CountDefunctProcesses(proc), 2);
  (void)RemoveAll(proc);
}

}  // namespace
}  // namespace cricket::metrics
