// The rest of the CRI surface against the real cricketd: the Stream* list RPCs (same items as List*,
// a stream cancelled half-way, streams racing creates and removes), the CRI metrics and the Prometheus
// endpoint while 20 pods run, UpdateRuntimeConfig's pod CIDR reaching a CNI plugin as ipRanges,
// UpdatePodSandboxResources, and the checkpoint RPCs that are not served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 60) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Every item of a Stream* RPC, and how many responses carried them.
template <class Response, class Item>
struct Streamed {
  std::vector<Item> items;
  int responses = 0;
  grpc::Status status;
};

// `items(response)`: the response's repeated field.
template <class Item, class Response, class Request, class Method, class Items>
Streamed<Response, Item> ReadAll(v1::RuntimeService::Stub& stub, Method method, const Request& req,
                                 Items items) {
  Streamed<Response, Item> out;
  auto ctx = Ctx();
  auto reader = (stub.*method)(ctx.get(), req);
  Response r;
  while (reader->Read(&r)) {
    ++out.responses;
    EXPECT_GT(items(r).size(), 0) << "a response without items";
    for (const Item& i : items(r)) out.items.push_back(i);
  }
  out.status = reader->Finish();
  return out;
}

template <class Item>
std::multiset<std::string> Ids(const std::vector<Item>& items) {
  std::multiset<std::string> ids;
  for (const Item& i : items) ids.insert(i.id());
  return ids;
}

// "name{labels}" → value, from a text exposition; every line checked against the format.
std::map<std::string, double> ParseExposition(const std::string& text, std::string* error) {
  std::map<std::string, double> out;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    size_t space = line.rfind(' ');
    if (space == std::string_view::npos || line.starts_with("#")) {
      *error = StrCat("malformed line: ", line);
      return out;
    }
    std::string value(line.substr(space + 1));
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() && value != "+Inf") {
      *error = StrCat("bad value: ", line);
      return out;
    }
    out[std::string(line.substr(0, space))] = v;
  }
  return out;
}

class CriSurfaceE2eTest : public PodE2eTest {
 protected:
  CriSurfaceE2eTest() {
    metrics_port_ = FreeTcpPort();
    set_extra_daemon_config(StrCat("\n[crio.metrics]\nenable_metrics = true\nmetrics_port = ", metrics_port_,
                                   "\n\n[crio.stats]\nincluded_pod_metrics = [\"all\"]\n"));
  }
  v1::PodSandboxConfig HostPod(const std::string& name, size_t annotation_bytes = 0) {
    v1::PodSandboxConfig c = PodConfig(name);
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    if (annotation_bytes > 0) (*c.mutable_annotations())["bulk"] = std::string(annotation_bytes, 'x');
    return c;
  }
  std::map<std::string, double> Scrape() {
    std::string response = HttpGet("127.0.0.1", metrics_port_, "/metrics");
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK"));
    size_t body = response.find("\r\n\r\n");
    std::string error;
    auto samples = ParseExposition(body == std::string::npos ? "" : response.substr(body + 4), &error);
    EXPECT_EQ(error, "");
    return samples;
  }
  v1::ListPodSandboxMetricsResponse PodMetrics() {
    v1::ListPodSandboxMetricsResponse resp;
    grpc::Status st = rt().ListPodSandboxMetrics(Ctx().get(), v1::ListPodSandboxMetricsRequest(), &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }
  int metrics_port_ = 0;
};

uint64_t MetricValue(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics, const std::string& name,
                     const std::string& last_label = "") {
  for (const auto& m : metrics) {
    if (m.name() != name) continue;
    if (!last_label.empty() && m.label_values(m.label_values_size() - 1) != last_label) continue;
    return m.value().value();
  }
  return UINT64_MAX;
}

// 20 pods with a container each; while they are created the metrics endpoint is scraped, then every
// Stream* RPC is compared with its List* sibling and the CRI metrics are checked.
TEST_F(CriSurfaceE2eTest, StreamsMetricsAndTheEndpointWithTwentyPods) {
  constexpr int kPods = 20;
  // Nothing to list: the stream ends at once, without an empty page (pages hold at least one item).
  auto none = ReadAll<v1::PodSandbox, v1::StreamPodSandboxesResponse>(
      rt(), &v1::RuntimeService::Stub::StreamPodSandboxes, v1::StreamPodSandboxesRequest(),
      [](const v1::StreamPodSandboxesResponse& r) -> const auto& { return r.pod_sandboxes(); });
  EXPECT_TRUE(none.status.ok()) << none.status.error_message();
  EXPECT_EQ(none.responses, 0);
  std::atomic<bool> creating{true};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (creating) {
      auto s = Scrape();
      if (s.contains("container_runtime_cricket_uptime_seconds")) ++scrapes;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<std::string> pods, ctrs;
  for (int i = 0; i < kPods; ++i) {
    v1::PodSandboxConfig pod = HostPod(StrCat("p", i));
    pods.push_back(MustRunPod(pod));
    ctrs.push_back(MustRunContainer(pods.back(), pod,
                                    ShellContainer("c", i == 0 ? "while :; do :; done" : "sleep 300")));
  }
  creating = false;
  scraper.join();
  EXPECT_GT(scrapes.load(), 3);
  auto samples = Scrape();
  EXPECT_EQ(samples["container_runtime_cricket_operations_total{operation=\"RunPodSandbox\"}"], kPods);
  EXPECT_EQ(samples["container_runtime_cricket_operations_total{operation=\"StartContainer\"}"], kPods);
  EXPECT_EQ(
      samples
          ["container_runtime_cricket_operations_latency_seconds_total_count{operation=\"CreateContainer\"}"],
      kPods);
  EXPECT_EQ(samples["container_runtime_cricket_image_pulls_success_total"], 1);  // the fixture's pull
  EXPECT_EQ(samples["container_runtime_cricket_default_runtime{runtime=\"cricket\"}"], 1);
  for (const auto& [series, v] : samples) {
    EXPECT_FALSE(series.starts_with("container_runtime_cricket_operations_errors_total")) << series;
  }

  // Stream* = List*, each item once.
  v1::ListPodSandboxResponse list_pods;
  ASSERT_TRUE(rt().ListPodSandbox(Ctx().get(), v1::ListPodSandboxRequest(), &list_pods).ok());
  auto streamed_pods = ReadAll<v1::PodSandbox, v1::StreamPodSandboxesResponse>(
      rt(), &v1::RuntimeService::Stub::StreamPodSandboxes, v1::StreamPodSandboxesRequest(),
      [](const v1::StreamPodSandboxesResponse& r) -> const auto& { return r.pod_sandboxes(); });
  ASSERT_TRUE(streamed_pods.status.ok()) << streamed_pods.status.error_message();
  EXPECT_EQ(Ids(streamed_pods.items),
            Ids(std::vector<v1::PodSandbox>(list_pods.items().begin(), list_pods.items().end())));
  EXPECT_EQ(streamed_pods.items.size(), static_cast<size_t>(kPods));

  v1::StreamContainersRequest ctr_req;
  ctr_req.mutable_filter()->set_pod_sandbox_id(pods[3]);
  auto one_pod = ReadAll<v1::Container, v1::StreamContainersResponse>(
      rt(), &v1::RuntimeService::Stub::StreamContainers, ctr_req,
      [](const v1::StreamContainersResponse& r) -> const auto& { return r.containers(); });
  ASSERT_EQ(one_pod.items.size(), 1u);
  EXPECT_EQ(one_pod.items[0].id(), ctrs[3]);
  auto all_ctrs = ReadAll<v1::Container, v1::StreamContainersResponse>(
      rt(), &v1::RuntimeService::Stub::StreamContainers, v1::StreamContainersRequest(),
      [](const v1::StreamContainersResponse& r) -> const auto& { return r.containers(); });
  EXPECT_EQ(Ids(all_ctrs.items), std::multiset<std::string>(ctrs.begin(), ctrs.end()));

  auto ctr_stats = ReadAll<v1::ContainerStats, v1::StreamContainerStatsResponse>(
      rt(), &v1::RuntimeService::Stub::StreamContainerStats, v1::StreamContainerStatsRequest(),
      [](const v1::StreamContainerStatsResponse& r) -> const auto& { return r.container_stats(); });
  ASSERT_TRUE(ctr_stats.status.ok());
  std::multiset<std::string> stat_ids;
  for (const auto& s : ctr_stats.items) {
    stat_ids.insert(s.attributes().id());
    EXPECT_GT(s.memory().working_set_bytes().value(), 0u) << s.attributes().id();
  }
  EXPECT_EQ(stat_ids, std::multiset<std::string>(ctrs.begin(), ctrs.end()));

  v1::StreamPodSandboxStatsRequest pod_stats_req;
  (*pod_stats_req.mutable_filter()->mutable_label_selector())["suite"] = "pode2e";
  auto pod_stats = ReadAll<v1::PodSandboxStats, v1::StreamPodSandboxStatsResponse>(
      rt(), &v1::RuntimeService::Stub::StreamPodSandboxStats, pod_stats_req,
      [](const v1::StreamPodSandboxStatsResponse& r) -> const auto& { return r.pod_sandbox_stats(); });
  ASSERT_TRUE(pod_stats.status.ok());
  EXPECT_EQ(pod_stats.items.size(), static_cast<size_t>(kPods));

  auto images = [&] {
    Streamed<v1::StreamImagesResponse, v1::Image> out;
    auto stub = daemon().ImageStub();
    auto ctx = Ctx();
    auto reader = stub->StreamImages(ctx.get(), v1::StreamImagesRequest());
    v1::StreamImagesResponse r;
    while (reader->Read(&r)) {
      ++out.responses;
      for (const auto& i : r.images()) out.items.push_back(i);
    }
    out.status = reader->Finish();
    return out;
  }();
  ASSERT_TRUE(images.status.ok());
  ASSERT_EQ(images.items.size(), 1u);
  EXPECT_EQ(images.items[0].id(), busybox_id());

  // CRI metrics: described names, 20 pods, a busy container's CPU counter grows.
  v1::ListMetricDescriptorsResponse descs;
  ASSERT_TRUE(rt().ListMetricDescriptors(Ctx().get(), v1::ListMetricDescriptorsRequest(), &descs).ok());
  std::map<std::string, int> described;
  for (const auto& d : descs.descriptors()) described[d.name()] = d.label_keys_size();
  EXPECT_TRUE(described.contains("container_cpu_usage_seconds_total"));
  EXPECT_TRUE(described.contains("container_memory_working_set_bytes"));
  auto m1 = PodMetrics();
  ASSERT_EQ(m1.pod_metrics_size(), kPods);
  const v1::PodSandboxMetrics* busy = nullptr;
  for (const auto& p : m1.pod_metrics()) {
    if (p.pod_sandbox_id() == pods[0]) busy = &p;
    ASSERT_EQ(p.container_metrics_size(), 1) << p.pod_sandbox_id();
    for (const auto& m : p.container_metrics(0).metrics()) {
      ASSERT_TRUE(described.contains(m.name())) << m.name();
      EXPECT_EQ(m.label_values_size(), described[m.name()]) << m.name();
    }
    EXPECT_NE(MetricValue(p.metrics(), "container_last_seen"), UINT64_MAX);
  }
  ASSERT_NE(busy, nullptr);
  uint64_t cpu1 = MetricValue(busy->container_metrics(0).metrics(), "container_cpu_usage_seconds_total");
  EXPECT_GT(MetricValue(busy->container_metrics(0).metrics(), "container_memory_working_set_bytes"), 0u);
  EXPECT_EQ(MetricValue(busy->container_metrics(0).metrics(), "container_processes"), 1u);  // the shell
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto m2 = PodMetrics();
  uint64_t cpu2 = UINT64_MAX;
  for (const auto& p : m2.pod_metrics()) {
    if (p.pod_sandbox_id() == pods[0]) {
      cpu2 = MetricValue(p.container_metrics(0).metrics(), "container_cpu_usage_seconds_total");
    }
  }
  EXPECT_NE(cpu1, UINT64_MAX);
  EXPECT_GT(cpu2, cpu1);
  auto streamed_metrics = ReadAll<v1::PodSandboxMetrics, v1::StreamPodSandboxMetricsResponse>(
      rt(), &v1::RuntimeService::Stub::StreamPodSandboxMetrics, v1::StreamPodSandboxMetricsRequest(),
      [](const v1::StreamPodSandboxMetricsResponse& r) -> const auto& { return r.pod_sandbox_metrics(); });
  ASSERT_TRUE(streamed_metrics.status.ok());
  std::set<std::string> metric_pods;
  for (const auto& p : streamed_metrics.items) EXPECT_TRUE(metric_pods.insert(p.pod_sandbox_id()).second);
  EXPECT_EQ(metric_pods, std::set<std::string>(pods.begin(), pods.end()));

  for (const std::string& p : pods) ASSERT_TRUE(RemovePod(p).ok());
  EXPECT_EQ(AllLeft(), Leftovers{});
}

// A client that reads the first page of a stream and cancels: the walk stops there (a small receive
// window keeps the server from running ahead), the server logs how far it got, and serves on.
TEST_F(CriSurfaceE2eTest, AStreamCancelledHalfWayStopsItsWalk) {
  constexpr int kPods = 20;
  constexpr size_t kAnnotation = 200 * 1024;  // five pods fill a 1 MiB page
  std::vector<std::string> pods;
  for (int i = 0; i < kPods; ++i) pods.push_back(MustRunPod(HostPod(StrCat("big", i), kAnnotation)));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  args.SetMaxReceiveMessageSize(16 << 20);
  auto channel =
      grpc::CreateCustomChannel("unix:" + daemon().socket_path(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::RuntimeService::NewStub(channel);
  auto ctx = Ctx();
  auto reader = stub->StreamPodSandboxes(ctx.get(), v1::StreamPodSandboxesRequest());
  v1::StreamPodSandboxesResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_GT(first.pod_sandboxes_size(), 0);
  EXPECT_LT(first.pod_sandboxes_size(), kPods);
  ctx->TryCancel();
  v1::StreamPodSandboxesResponse rest;
  while (reader->Read(&rest)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The server's account of the walk (debug log: items walked, status code 1 = CANCELLED).
  std::string line;
  for (int i = 0; i < 50 && line.empty(); ++i) {
    for (std::string_view l : Split(daemon().Stderr(), '\n')) {
      if (l.find("msg=\"stream ended\"") != std::string_view::npos &&
          l.find("StreamPodSandboxes") != std::string_view::npos) {
        line = std::string(l);
      }
    }
    if (line.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(line.empty()) << daemon().Stderr();
  EXPECT_THAT(line, HasSubstr("code=1"));
  size_t at = line.find("items=");
  ASSERT_NE(at, std::string::npos);
  int walked = std::stoi(line.substr(at + 6));
  EXPECT_LT(walked, kPods) << line;
  EXPECT_GE(walked, first.pod_sandboxes_size()) << line;

  // Served on: a full stream, racing pods created and removed, has every lasting pod exactly once.
  std::atomic<bool> churn{true};
  std::thread churner([&] {
    for (int i = 0; churn; ++i) {
      std::string id;
      if (RunPod(HostPod(StrCat("churn", i)), &id).ok()) (void)RemovePod(id);
    }
  });
  for (int round = 0; round < 5; ++round) {
    auto all = ReadAll<v1::PodSandbox, v1::StreamPodSandboxesResponse>(
        rt(), &v1::RuntimeService::Stub::StreamPodSandboxes, v1::StreamPodSandboxesRequest(),
        [](const v1::StreamPodSandboxesResponse& r) -> const auto& { return r.pod_sandboxes(); });
    ASSERT_TRUE(all.status.ok()) << all.status.error_message();
    EXPECT_GE(all.responses, 4);  // 20 pods of 200 KiB: pages of at most 1 MiB
    std::multiset<std::string> ids = Ids(all.items);
    for (const std::string& id : ids) EXPECT_EQ(ids.count(id), 1u) << id;
    for (const std::string& p : pods) EXPECT_EQ(ids.count(p), 1u) << p;
  }
  churn = false;
  churner.join();
  for (const std::string& p : pods) ASSERT_TRUE(RemovePod(p).ok());
  EXPECT_EQ(AllLeft(), Leftovers{});
}

TEST_F(CriSurfaceE2eTest, ThePodCidrReachesCniAsIpRangesAndSurvivesARestart) {
  v1::UpdateRuntimeConfigRequest bad;
  bad.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.1.2.3/40");
  v1::UpdateRuntimeConfigResponse resp;
  grpc::Status st = rt().UpdateRuntimeConfig(Ctx().get(), bad, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("10.1.2.3/40"));

  // A network whose IPAM has no ranges of its own: the pod can only get an address from the runtime.
  std::string cidr = StrCat(subnet_prefix(), "128.0/17");
  nlohmann::json conf = {{"cniVersion", "1.0.0"},
                         {"name", network_name()},
                         {"plugins",
                          {{{"type", "bridge"},
                            {"bridge", bridge()},
                            {"isGateway", true},
                            {"capabilities", {{"ipRanges", true}}},
                            {"ipam",
                             {{"type", "host-local"},
                              {"routes", {{{"dst", "0.0.0.0/0"}}}},
                              {"dataDir", daemon().dir() + "/ipam"}}}},
                           {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
  ASSERT_TRUE(WriteFileAtomic(daemon().cni_dir() + "/10-pod-e2e.conflist", conf.dump(2)).ok());

  v1::UpdateRuntimeConfigRequest good;
  good.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(cidr);
  ASSERT_TRUE(rt().UpdateRuntimeConfig(Ctx().get(), good, &resp).ok());
  v1::UpdateRuntimeConfigRequest empty;  // "If the CIDR is empty, runtimes should omit it"
  ASSERT_TRUE(rt().UpdateRuntimeConfig(Ctx().get(), empty, &resp).ok());
  std::string pod1 = MustRunPod(PodConfig("cidr1"));
  std::string ip1 = PodStatus(pod1).network().ip();
  EXPECT_THAT(ip1, StartsWith(StrCat(subnet_prefix(), "128."))) << cidr;

  ASSERT_TRUE(daemon().Stop(SIGTERM).ok());
  StartDaemon();
  v1::StatusRequest status_req;
  status_req.set_verbose(true);
  v1::StatusResponse status;
  ASSERT_TRUE(rt().Status(Ctx().get(), status_req, &status).ok());
  EXPECT_THAT(status.info().at("cni"), HasSubstr(cidr));
  std::string pod2 = MustRunPod(PodConfig("cidr2"));
  std::string ip2 = PodStatus(pod2).network().ip();
  EXPECT_THAT(ip2, StartsWith(StrCat(subnet_prefix(), "128.")));
  EXPECT_NE(ip1, ip2);
  for (const std::string& p : {pod1, pod2}) ASSERT_TRUE(RemovePod(p).ok());
  EXPECT_EQ(AllLeft(), Leftovers{});
}

TEST_F(CriSurfaceE2eTest, PodLevelResourcesAreRecordedAndKept) {
  std::string pod = MustRunPod(HostPod("resized"));
  v1::UpdatePodSandboxResourcesRequest req;
  req.set_pod_sandbox_id(pod);
  req.mutable_resources()->set_memory_limit_in_bytes(256 << 20);
  req.mutable_resources()->set_cpu_quota(50000);
  req.mutable_overhead()->set_cpu_shares(10);
  v1::UpdatePodSandboxResourcesResponse resp;
  ASSERT_TRUE(rt().UpdatePodSandboxResources(Ctx().get(), req, &resp).ok());
  auto verbose_info = [&] {
    v1::PodSandboxStatusResponse status;
    EXPECT_TRUE(GetPodStatus(pod, &status, /*verbose=*/true).ok());
    return nlohmann::json::parse(status.info().at("info"));
  };
  nlohmann::json info = verbose_info();
  EXPECT_EQ(info["podResources"]["memory_limit_in_bytes"], "268435456");  // int64 in proto JSON
  EXPECT_EQ(info["podResources"]["cpu_quota"], "50000");
  EXPECT_EQ(info["podOverhead"]["cpu_shares"], "10");
  ASSERT_TRUE(daemon().Stop(SIGTERM).ok());
  StartDaemon();
  info = verbose_info();
  EXPECT_EQ(info["podResources"]["memory_limit_in_bytes"], "268435456");
  req.set_pod_sandbox_id("no-such-pod");
  EXPECT_EQ(rt().UpdatePodSandboxResources(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(RemovePod(pod).ok());
  EXPECT_EQ(AllLeft(), Leftovers{});
}

TEST_F(CriSurfaceE2eTest, CheckpointRpcsAreUnimplementedAndSayWhy) {
  v1::CheckpointContainerResponse c;
  grpc::Status st = rt().CheckpointContainer(Ctx().get(), v1::CheckpointContainerRequest(), &c);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(st.error_message(), HasSubstr("criu check"));
  v1::CheckpointPodResponse p;
  EXPECT_EQ(rt().CheckpointPod(Ctx().get(), v1::CheckpointPodRequest(), &p).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  v1::RestorePodResponse r;
  st = rt().RestorePod(Ctx().get(), v1::RestorePodRequest(), &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(st.error_message(), HasSubstr("CRIU"));
}

}  // namespace
}  // namespace cricket::e2e
