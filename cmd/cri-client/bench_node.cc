// cricket-cri bench-node: a node's worth of pods against one CRI endpoint, with a kubelet-like relist
// loop running throughout (see hack/bench/node).
//
// The filler starts `pods` pods one after another, each RunPodSandbox then CreateContainer +
// StartContainer for each of its `containers` containers (busybox sleep), and records the pod's start
// latency. Meanwhile the relister calls ListPodSandbox + ListContainers every second and
// ListContainerStats + ListPodSandboxStats every ten, as kubelet's PLEG and stats provider do, and
// records each call's latency. Once the node is full it prints "steady start", relists for `steady`
// seconds, prints "steady end" (the driving script samples the daemon's CPU between the two lines) and
// then the figures: pod start p50/p99 while filling, and each list RPC's p50/p99/max during the steady
// phase with the number of items it returned. The pods are left running.
#include "cmd/cri-client/bench_node.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::cri_client {
namespace {

namespace v1 = ::runtime::v1;

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double MsSince(int64_t start) { return static_cast<double>(MonotonicNow() - start) / 1e6; }

// Latencies of the list RPCs, by name; only the steady phase's are reported.
class ListRecorder {
 public:
  void Add(const std::string& rpc, double ms, int items, bool steady) {
    std::lock_guard<std::mutex> l(mu_);
    Series& s = (steady ? steady_ : filling_)[rpc];
    s.ms.push_back(ms);
    s.items = items;
  }
  void Print() {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [phase, series] : {std::pair{"filling", &filling_}, std::pair{"steady", &steady_}}) {
      for (auto& [rpc, s] : *series) {
        printf("list %s %s calls %zu items %d p50_ms %.2f p99_ms %.2f max_ms %.2f\n", phase, rpc.c_str(),
               s.ms.size(), s.items, Pct(s.ms, 0.5), Pct(s.ms, 0.99), Pct(s.ms, 1.0));
      }
    }
  }

 private:
  struct Series {
    std::vector<double> ms;
    int items = 0;
  };
  std::mutex mu_;
  std::map<std::string, Series> filling_, steady_;
};

// Calls one list RPC (`call(context, &response)`) and records its latency and item count.
template <class Response, class Call, class Count>
bool TimedList(const char* rpc, Call call, Count count, bool steady, ListRecorder& rec) {
  int64_t t = MonotonicNow();
  Response resp;
  if (!Check(call(Ctx().get(), &resp), rpc)) return false;
  rec.Add(rpc, MsSince(t), count(resp), steady);
  return true;
}

// One round of kubelet's relist; every tenth round also the stats calls. False when an RPC failed.
bool Relist(Client& c, int round, bool steady, ListRecorder& rec) {
  auto& rt = *c.rt;
  if (!TimedList<v1::ListPodSandboxResponse>(
          "ListPodSandbox", [&](auto* ctx, auto* r) { return rt.ListPodSandbox(ctx, {}, r); },
          [](const auto& r) { return r.items_size(); }, steady, rec) ||
      !TimedList<v1::ListContainersResponse>(
          "ListContainers", [&](auto* ctx, auto* r) { return rt.ListContainers(ctx, {}, r); },
          [](const auto& r) { return r.containers_size(); }, steady, rec)) {
    return false;
  }
  if (round % 10 != 0) return true;
  return TimedList<v1::ListContainerStatsResponse>(
             "ListContainerStats", [&](auto* ctx, auto* r) { return rt.ListContainerStats(ctx, {}, r); },
             [](const auto& r) { return r.stats_size(); }, steady, rec) &&
         TimedList<v1::ListPodSandboxStatsResponse>(
             "ListPodSandboxStats", [&](auto* ctx, auto* r) { return rt.ListPodSandboxStats(ctx, {}, r); },
             [](const auto& r) { return r.stats_size(); }, steady, rec);
}

// Starts one pod with `containers` containers; its latency in ms, or < 0 on failure.
double StartPod(Client& c, const NodeBenchOptions& o, int i) {
  v1::PodSandboxConfig pod;
  std::string name = StrCat(o.prefix, "-", i);
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("bench");
  pod.mutable_metadata()->set_uid(name + "-uid");
  pod.set_hostname(name);
  // As kubelet configures a pod by default (no shareProcessNamespace): a pid namespace per container.
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  pod.set_log_directory(StrCat(o.log_root, "/", i));
  // As kubelet's cgroupfs driver does: a parent per pod (containerd has no pod stats without one).
  if (!o.cgroup_parent.empty()) pod.mutable_linux()->set_cgroup_parent(StrCat(o.cgroup_parent, "/pod", i));
  if (absl::Status st = MkdirAll(pod.log_directory(), 0755); !st.ok()) {
    fprintf(stderr, "cricket-cri: %s\n", st.ToString().c_str());
    return -1;
  }
  int64_t start = MonotonicNow();
  v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  v1::RunPodSandboxResponse ran;
  if (!Check(c.rt->RunPodSandbox(Ctx().get(), run, &ran), "RunPodSandbox " + name)) return -1;
  for (int k = 0; k < o.containers; ++k) {
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(ran.pod_sandbox_id());
    *create.mutable_sandbox_config() = pod;
    v1::ContainerConfig* cc = create.mutable_config();
    cc->mutable_metadata()->set_name(StrCat("c", k));
    cc->mutable_image()->set_image(o.image);
    cc->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
    cc->add_command("sleep");
    cc->add_command("3600");
    cc->set_log_path(StrCat("c", k, ".log"));
    v1::CreateContainerResponse created;
    if (!Check(c.rt->CreateContainer(Ctx().get(), create, &created), "CreateContainer " + name)) return -1;
    v1::StartContainerRequest startc;
    startc.set_container_id(created.container_id());
    v1::StartContainerResponse started;
    if (!Check(c.rt->StartContainer(Ctx().get(), startc, &started), "StartContainer " + name)) return -1;
  }
  return MsSince(start);
}

}  // namespace

int BenchNode(Client& c, Client& lister, const NodeBenchOptions& o) {
  if (!PullForBench(c, o.image)) return 1;

  ListRecorder rec;
  std::atomic<bool> steady{false}, stop{false}, list_failed{false};
  std::thread relister([&] {
    int64_t next = MonotonicNow();
    for (int round = 0; !stop.load(); ++round) {
      if (!Relist(lister, round, steady.load(), rec)) list_failed = true;
      next += 1'000'000'000;
      while (!stop.load() && MonotonicNow() < next)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::vector<double> starts;
  bool failed = false;
  for (int i = 0; i < o.pods && !failed; ++i) {
    double ms = StartPod(c, o, i);
    if (ms < 0) {
      failed = true;
      break;
    }
    starts.push_back(ms);
    printf("pod %d: %.1f ms\n", i, ms);
    fflush(stdout);
  }
  if (!failed) {
    steady = true;
    printf("steady start\n");
    fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(o.steady_seconds));
    printf("steady end\n");
    fflush(stdout);
  }
  stop = true;
  relister.join();
  if (failed) return 1;
  printf("pod_start pods %d containers_per_pod %d p50_ms %.1f p99_ms %.1f max_ms %.1f\n", o.pods,
         o.containers, Pct(starts, 0.5), Pct(starts, 0.99), Pct(starts, 1.0));
  rec.Print();
  return list_failed ? 1 : 0;
}

}  // namespace cricket::cri_client
