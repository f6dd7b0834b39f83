#include "server/cri_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

std::vector<std::string> Names(const std::vector<v1::MetricDescriptor>& d) {
  std::vector<std::string> out;
  for (const auto& m : d) out.push_back(m.name());
  return out;
}

TEST(CriMetricsTest, DescriptorsFollowTheGroups) {
  auto always = MetricDescriptors({});
  EXPECT_THAT(Names(always), ElementsAre("container_last_seen"));
  auto cpu = MetricDescriptors({"cpu"});
  EXPECT_THAT(Names(cpu), Contains("container_cpu_usage_seconds_total"));
  EXPECT_THAT(Names(cpu), Not(Contains("container_memory_working_set_bytes")));
  auto all = MetricDescriptors(ExpandMetricGroups({"all"}));
  std::set<std::string> groups_seen;
  std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*"), label_re("[a-zA-Z_][a-zA-Z0-9_]*");
  std::set<std::string> names;
  for (const auto& d : all) {
    EXPECT_TRUE(std::regex_match(d.name(), name_re)) << d.name();
    EXPECT_TRUE(names.insert(d.name()).second) << "duplicate " << d.name();
    EXPECT_FALSE(d.help().empty()) << d.name();
    ASSERT_GE(d.label_keys_size(), 5) << d.name();
    EXPECT_THAT(std::vector<std::string>(d.label_keys().begin(), d.label_keys().begin() + 5),
                ElementsAre("id", "image", "namespace", "pod", "container"));
    for (const auto& k : d.label_keys()) EXPECT_TRUE(std::regex_match(k, label_re)) << k;
  }
  for (const char* want :
       {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_memory_rss",
        "container_network_receive_bytes_total", "container_fs_usage_bytes", "container_oom_events_total",
        "container_processes", "container_spec_memory_limit_bytes",
        "container_pressure_cpu_waiting_seconds_total", "container_hugetlb_usage_bytes",
        "container_fs_reads_bytes_total"}) {
    EXPECT_TRUE(names.contains(want)) << want;
  }
}

// Every metric's labels match its descriptor's keys, and its name is described.
void ExpectConsistent(const std::set<std::string>& groups,
                      const google::protobuf::RepeatedPtrField<v1::Metric>& metrics) {
  std::map<std::string, int> keys;
  for (const auto& d : MetricDescriptors(groups)) keys[d.name()] = d.label_keys_size();
  std::set<std::string> series;
  for (const auto& m : metrics) {
    ASSERT_TRUE(keys.contains(m.name())) << m.name() << " has no descriptor";
    EXPECT_EQ(m.label_values_size(), keys[m.name()]) << m.name();
    EXPECT_EQ(m.timestamp(), 0) << m.name();
    std::string id = m.name();
    for (const auto& l : m.label_values()) id += "|" + l;
    EXPECT_TRUE(series.insert(id).second) << "duplicate series " << id;
  }
}

std::map<std::string, uint64_t> Values(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics) {
  std::map<std::string, uint64_t> out;
  for (const auto& m : metrics) {
    std::string key = m.name();
    for (int i = 5; i < m.label_values_size(); ++i) key += "/" + m.label_values(i);
    out[key] = m.value().value();
  }
  return out;
}

TEST(CriMetricsTest, ContainerFiguresBecomeMetricsInSecondsAndBytes) {
  MetricSource src;
  src.labels = {"ctr1", "docker.io/library/busybox:latest", "ns", "web", "app"};
  cgroups::Stats st;
  st.cpu = cgroups::CpuStats{.usage_ns = 3'700'000'000,
                             .user_ns = 2'100'000'000,
                             .system_ns = 1'600'000'000,
                             .periods = 10,
                             .throttled_periods = 2,
                             .throttled_ns = 500'000'000};
  st.memory = cgroups::MemoryStats{.usage = 1000,
                                   .working_set = 800,
                                   .rss = 600,
                                   .cache = 200,
                                   .page_faults = 50,
                                   .major_page_faults = 5,
                                   .oom_kills = 1,
                                   .limit = std::nullopt};
  st.pids = cgroups::PidsStats{.current = 3, .limit = 100};
  st.hugetlb["2MB"] = cgroups::HugetlbStats{.usage = 4096};
  src.cgroup = st;
  src.fs = FsFigures{.used_bytes = 12345, .capacity_bytes = 1 << 30, .inodes_total = 1000, .inodes_free = 10};
  src.processes = ProcessFigures{.processes = 2, .file_descriptors = 9, .sockets = 1};
  v1::LinuxContainerResources res;
  res.set_cpu_quota(50000);
  res.set_cpu_period(100000);
  res.set_memory_limit_in_bytes(64 << 20);
  src.spec = res;
  src.started_at = 1'700'000'000'123'000'000;
  src.cpu_pressure = PressureTotals{.some_us = 2'500'000, .full_us = 0};
  google::protobuf::RepeatedPtrField<v1::Metric> out;
  std::set<std::string> all = ExpandMetricGroups({"all"});
  AppendMetrics(all, src, 1'800'000'000'999'999'999, &out);
  ExpectConsistent(all, out);
  auto v = Values(out);
  EXPECT_EQ(v["container_last_seen"], 1'800'000'000u);
  EXPECT_EQ(v["container_cpu_usage_seconds_total/total"], 3u);
  EXPECT_EQ(v["container_cpu_user_seconds_total"], 2u);
  EXPECT_EQ(v["container_cpu_cfs_throttled_periods_total"], 2u);
  EXPECT_EQ(v["container_memory_working_set_bytes"], 800u);
  EXPECT_EQ(v["container_memory_rss"], 600u);
  EXPECT_EQ(v["container_memory_failures_total/pgmajfault/container"], 5u);
  EXPECT_EQ(v["container_oom_events_total"], 1u);
  EXPECT_EQ(v["container_threads"], 3u);
  EXPECT_EQ(v["container_threads_max"], 100u);
  EXPECT_EQ(v["container_processes"], 2u);
  EXPECT_EQ(v["container_hugetlb_usage_bytes/2MB"], 4096u);
  EXPECT_EQ(v["container_fs_usage_bytes"], 12345u);
  EXPECT_EQ(v["container_spec_cpu_quota"], 50000u);
  EXPECT_EQ(v["container_spec_memory_limit_bytes"], 64u << 20);
  EXPECT_FALSE(v.contains("container_spec_cpu_shares"));  // not set: not reported
  EXPECT_EQ(v["container_start_time_seconds"], 1'700'000'000u);
  EXPECT_EQ(v["container_pressure_cpu_waiting_seconds_total"], 2u);
  EXPECT_FALSE(v.contains("container_pressure_memory_waiting_seconds_total"));  // not read
  EXPECT_EQ(out[0].label_values(0), "ctr1");
  EXPECT_EQ(out[0].label_values(4), "app");
}

TEST(CriMetricsTest, OnlyTheSelectedGroupsAndThePodsInterfaces) {
  MetricSource pod;
  pod.labels = {"pod1", "", "ns", "web", "POD"};
  cgroups::Stats st;
  st.cpu = cgroups::CpuStats{.usage_ns = 5'000'000'000};
  st.memory.emplace().working_set = 10;
  pod.cgroup = st;
  pod.interfaces = std::vector<InterfaceCounters>{{.name = "lo", .rx_bytes = 1},
                                                  {.name = "eth0", .rx_bytes = 100, .tx_packets = 7}};
  google::protobuf::RepeatedPtrField<v1::Metric> out;
  AppendMetrics({"network"}, pod, 0, &out);
  ExpectConsistent({"network"}, out);
  auto v = Values(out);
  EXPECT_EQ(v["container_network_receive_bytes_total/eth0"], 100u);
  EXPECT_EQ(v["container_network_transmit_packets_total/eth0"], 7u);
  EXPECT_FALSE(v.contains("container_network_receive_bytes_total/lo"));
  EXPECT_FALSE(v.contains("container_cpu_usage_seconds_total/total"));
  EXPECT_TRUE(v.contains("container_last_seen"));
  EXPECT_EQ(out.size(), 9);  // last_seen + 8 for eth0
}

TEST(CriMetricsTest, ParsePressure) {
  auto p = ParsePressure(
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
      "total=678\n");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->some_us, 12345u);
  EXPECT_EQ(p->full_us, 678u);
  auto cpu_only_some = ParsePressure("some avg10=1.00 avg60=0.00 avg300=0.00 total=5\n");
  ASSERT_TRUE(cpu_only_some.has_value());
  EXPECT_EQ(cpu_only_some->full_us, 0u);
  EXPECT_FALSE(ParsePressure("").has_value());
  EXPECT_FALSE(ParsePressure("some avg10=0.00 total=abc\n").has_value());
}

}  // namespace
}  // namespace cricket::server
