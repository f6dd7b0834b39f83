// cricket-cri: a small CRI client for scripts and benchmarks, driving any CRI endpoint (cricketd,
// containerd, CRI-O) through the generated stubs.
//
//   cricket-cri --endpoint unix:///run/cricket/cricket.sock remove-all
//       stops and removes every pod sandbox (and so every container)
//   cricket-cri --endpoint ... status
//       the Status RPC: prints each condition ("RuntimeReady true"); exit 1 unless all are true
//   cricket-cri --endpoint ... pull --image IMAGE
//   cricket-cri --endpoint ... bench-pods --image IMAGE [--count 20] [--runtime-handler H]
//                                         [--prefix NAME] [--log-root DIR]
//       pod start latency: RunPodSandbox + CreateContainer + StartContainer of `IMAGE sleep 3600`,
//       one pod after another; prints each latency, then median and p90; leaves the pods running
//       (remove-all cleans up). Pod i logs to DIR/i (default /tmp/NAME-logs/i), created beforehand
//       as kubelet does.
//   cricket-cri --endpoint ... bench-cycles --image IMAGE [--count 50] [--prefix NAME] [--log-root DIR]
//       pod life cycles, one after another: RunPodSandbox, CreateContainer + StartContainer of
//       `IMAGE sleep 3600`, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox; prints
//       each cycle's wall time, then median and p90
//   cricket-cri --endpoint ... events [--stall]
//       GetContainerEvents: one line per event ("<created_at> <TYPE> <id> pod=<sandbox id>") until the
//       stream ends; with --stall it subscribes and never reads (a stuck subscriber, for benchmarks),
//       on a connection with a small receive window, until it is killed
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cmd/cri-client/bench_node.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "runtime/v1/api.grpc.pb.h"

namespace {

namespace v1 = ::runtime::v1;
using cricket::StrCat;

constexpr char kUsage[] =
    "usage: cricket-cri --endpoint unix:///path/to.sock <command> [flags]\n"
    "commands:\n"
    "  remove-all                          stop and remove every pod sandbox\n"
    "  status                              the runtime's conditions\n"
    "  pull --image IMAGE\n"
    "  bench-pods --image IMAGE [--count N] [--runtime-handler H] [--prefix NAME] [--log-root DIR]\n"
    "  bench-cycles --image IMAGE [--count N] [--prefix NAME] [--log-root DIR] [--host-network]\n"
    "  bench-node --image IMAGE [--count PODS] [--containers N] [--steady SECONDS] [--prefix NAME]\n"
    "             [--log-root DIR] [--cgroup-parent /PATH]   fill a node, relisting like kubelet\n"
    "  events [--stall]\n";

using cricket::cri_client::Check;
using cricket::cri_client::Client;
using cricket::cri_client::Ctx;
using cricket::cri_client::PullForBench;

int RemoveAll(Client& c) {
  v1::ListPodSandboxResponse pods;
  if (!Check(c.rt->ListPodSandbox(Ctx().get(), v1::ListPodSandboxRequest(), &pods), "ListPodSandbox"))
    return 1;
  int failures = 0;
  for (const v1::PodSandbox& p : pods.items()) {
    v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(p.id());
    v1::StopPodSandboxResponse stop_resp;
    if (!Check(c.rt->StopPodSandbox(Ctx().get(), stop, &stop_resp), "StopPodSandbox " + p.id())) ++failures;
    v1::RemovePodSandboxRequest rm;
    rm.set_pod_sandbox_id(p.id());
    v1::RemovePodSandboxResponse rm_resp;
    if (!Check(c.rt->RemovePodSandbox(Ctx().get(), rm, &rm_resp), "RemovePodSandbox " + p.id())) ++failures;
  }
  printf("removed %d pod sandboxes\n", pods.items_size() - failures);
  return failures == 0 ? 0 : 1;
}

int Status(Client& c) {
  v1::StatusResponse resp;
  if (!Check(c.rt->Status(Ctx().get(), v1::StatusRequest(), &resp), "Status")) return 1;
  bool all = true;
  for (const v1::RuntimeCondition& cond : resp.status().conditions()) {
    printf("%s %s%s%s\n", cond.type().c_str(), cond.status() ? "true" : "false",
           cond.reason().empty() ? "" : " ", cond.reason().c_str());
    all = all && cond.status();
  }
  return all ? 0 : 1;
}

int Pull(Client& c, const std::string& image) {
  v1::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  v1::PullImageResponse pulled;
  if (!Check(c.img->PullImage(Ctx(600).get(), pull, &pulled), "PullImage " + image)) return 1;
  printf("%s\n", pulled.image_ref().c_str());
  return 0;
}

int BenchPods(Client& c, const std::string& image, int count, const std::string& handler,
              const std::string& prefix, std::string log_root) {
  if (!PullForBench(c, image)) return 1;
  if (log_root.empty()) log_root = StrCat("/tmp/", prefix, "-logs");
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    v1::PodSandboxConfig pod;
    pod.mutable_metadata()->set_name(StrCat(prefix, "-", i));
    pod.mutable_metadata()->set_namespace_("bench");
    pod.mutable_metadata()->set_uid(StrCat(prefix, "-uid-", i));
    pod.set_hostname(StrCat(prefix, "-", i));
    // As kubelet configures a pod by default (no shareProcessNamespace): a pid namespace per container.
    pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
    pod.set_log_directory(StrCat(log_root, "/", i));
    if (absl::Status st = cricket::MkdirAll(pod.log_directory(), 0755); !st.ok()) {
      fprintf(stderr, "cricket-cri: %s\n", st.ToString().c_str());
      return 1;
    }
    int64_t start = cricket::MonotonicNow();
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod;
    run.set_runtime_handler(handler);
    v1::RunPodSandboxResponse ran;
    if (!Check(c.rt->RunPodSandbox(Ctx().get(), run, &ran), "RunPodSandbox")) return 1;
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(ran.pod_sandbox_id());
    *create.mutable_sandbox_config() = pod;
    v1::ContainerConfig* cc = create.mutable_config();
    cc->mutable_metadata()->set_name("sleep");
    cc->mutable_image()->set_image(image);
    cc->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
    cc->add_command("sleep");
    cc->add_command("3600");
    cc->set_log_path("sleep.log");
    v1::CreateContainerResponse created;
    if (!Check(c.rt->CreateContainer(Ctx().get(), create, &created), "CreateContainer")) return 1;
    v1::StartContainerRequest startc;
    startc.set_container_id(created.container_id());
    v1::StartContainerResponse started;
    if (!Check(c.rt->StartContainer(Ctx().get(), startc, &started), "StartContainer")) return 1;
    double elapsed = static_cast<double>(cricket::MonotonicNow() - start) / 1e6;
    ms.push_back(elapsed);
    printf("pod %d: %.1f ms\n", i, elapsed);
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
  };
  printf("median_ms %.1f\np90_ms %.1f\n", pct(0.5), pct(0.9));
  return 0;
}

void PrintSummary(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
  printf("median_ms %.1f\np90_ms %.1f\n", pct(0.5), pct(0.9));
}

// One pod's life: run, a container created and started, stopped and removed, the pod stopped and removed.
bool PodCycle(Client& c, const std::string& image, const std::string& name, const std::string& log_dir,
              bool host_network) {
  v1::PodSandboxConfig pod;
  if (host_network) {
    pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  }
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("bench");
  pod.mutable_metadata()->set_uid(name + "-uid");
  pod.set_log_directory(log_dir);
  if (absl::Status st = cricket::MkdirAll(log_dir, 0755); !st.ok()) {
    fprintf(stderr, "cricket-cri: %s\n", st.ToString().c_str());
    return false;
  }
  v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  v1::RunPodSandboxResponse ran;
  if (!Check(c.rt->RunPodSandbox(Ctx().get(), run, &ran), "RunPodSandbox")) return false;
  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(ran.pod_sandbox_id());
  *create.mutable_sandbox_config() = pod;
  create.mutable_config()->mutable_metadata()->set_name("sleep");
  create.mutable_config()->mutable_image()->set_image(image);
  create.mutable_config()->add_command("sleep");
  create.mutable_config()->add_command("3600");
  create.mutable_config()->set_log_path("sleep.log");
  v1::CreateContainerResponse created;
  if (!Check(c.rt->CreateContainer(Ctx().get(), create, &created), "CreateContainer")) return false;
  const std::string& id = created.container_id();
  v1::StartContainerRequest start;
  start.set_container_id(id);
  v1::StartContainerResponse started;
  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  v1::StopContainerResponse stopped;
  v1::RemoveContainerRequest remove;
  remove.set_container_id(id);
  v1::RemoveContainerResponse removed;
  v1::StopPodSandboxRequest stop_pod;
  stop_pod.set_pod_sandbox_id(ran.pod_sandbox_id());
  v1::StopPodSandboxResponse pod_stopped;
  v1::RemovePodSandboxRequest remove_pod;
  remove_pod.set_pod_sandbox_id(ran.pod_sandbox_id());
  v1::RemovePodSandboxResponse pod_removed;
  return Check(c.rt->StartContainer(Ctx().get(), start, &started), "StartContainer") &&
         Check(c.rt->StopContainer(Ctx().get(), stop, &stopped), "StopContainer") &&
         Check(c.rt->RemoveContainer(Ctx().get(), remove, &removed), "RemoveContainer") &&
         Check(c.rt->StopPodSandbox(Ctx().get(), stop_pod, &pod_stopped), "StopPodSandbox") &&
         Check(c.rt->RemovePodSandbox(Ctx().get(), remove_pod, &pod_removed), "RemovePodSandbox");
}

int BenchCycles(Client& c, const std::string& image, int count, const std::string& prefix,
                std::string log_root, bool host_network) {
  if (!PullForBench(c, image)) return 1;
  if (log_root.empty()) log_root = StrCat("/tmp/", prefix, "-logs");
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    int64_t start = cricket::MonotonicNow();
    if (!PodCycle(c, image, StrCat(prefix, "-", i), StrCat(log_root, "/", i), host_network)) return 1;
    ms.push_back(static_cast<double>(cricket::MonotonicNow() - start) / 1e6);
    printf("cycle %d: %.1f ms\n", i, ms.back());
  }
  PrintSummary(ms);
  return 0;
}

int Events(const std::string& target, bool stall) {
  grpc::ChannelArguments args;
  if (stall) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  }
  auto stub = v1::RuntimeService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  auto reader = stub->GetContainerEvents(&ctx, v1::GetEventsRequest());
  if (stall) {
    printf("subscribed; not reading\n");
    fflush(stdout);
    for (;;) pause();
  }
  v1::ContainerEventResponse e;
  while (reader->Read(&e)) {
    std::string type = v1::ContainerEventType_Name(e.container_event_type());
    printf("%lld %s %s pod=%s\n", static_cast<long long>(e.created_at()), type.c_str(),
           e.container_id().c_str(), e.pod_sandbox_status().id().c_str());
    fflush(stdout);
  }
  return Check(reader->Finish(), "GetContainerEvents") ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint, command, image, handler, prefix = "bench", log_root, cgroup_parent;
  int count = 20, containers = 3, steady = 60;
  bool stall = false, host_network = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--endpoint") {
      endpoint = value();
    } else if (a == "--image") {
      image = value();
    } else if (a == "--count") {
      count = std::atoi(value().c_str());
    } else if (a == "--cgroup-parent") {
      cgroup_parent = value();
    } else if (a == "--containers") {
      containers = std::atoi(value().c_str());
    } else if (a == "--steady") {
      steady = std::atoi(value().c_str());
    } else if (a == "--runtime-handler") {
      handler = value();
    } else if (a == "--prefix") {
      prefix = value();
    } else if (a == "--log-root") {
      log_root = value();
    } else if (a == "--stall") {
      stall = true;
    } else if (a == "--host-network") {
      host_network = true;
    } else if (command.empty() && a[0] != '-') {
      command = a;
    } else {
      fputs(kUsage, stderr);
      return 2;
    }
  }
  if (endpoint.empty() || command.empty()) {
    fputs(kUsage, stderr);
    return 2;
  }
  std::string target = endpoint.starts_with("unix://") ? "unix:" + endpoint.substr(7) : endpoint;
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  Client c{v1::RuntimeService::NewStub(channel), v1::ImageService::NewStub(channel)};
  if (command == "remove-all") return RemoveAll(c);
  if (command == "status") return Status(c);
  if (command == "pull") {
    if (image.empty()) {
      fputs(kUsage, stderr);
      return 2;
    }
    return Pull(c, image);
  }
  if (command == "bench-pods") {
    if (image.empty() || count <= 0) {
      fputs(kUsage, stderr);
      return 2;
    }
    return BenchPods(c, image, count, handler, prefix, log_root);
  }
  if (command == "bench-node") {
    if (image.empty() || count <= 0 || containers <= 0 || steady < 0) {
      fputs(kUsage, stderr);
      return 2;
    }
    cricket::cri_client::NodeBenchOptions o;
    o.image = image;
    o.prefix = prefix;
    o.log_root = log_root.empty() ? StrCat("/tmp/", prefix, "-logs") : log_root;
    o.pods = count;
    o.containers = containers;
    o.steady_seconds = steady;
    o.cgroup_parent = cgroup_parent;
    auto list_channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), [] {
      grpc::ChannelArguments args;
      args.SetInt("cricket.lister", 1);  // a channel of its own, not shared with the pod starts
      return args;
    }());
    Client lister{v1::RuntimeService::NewStub(list_channel), v1::ImageService::NewStub(list_channel)};
    return cricket::cri_client::BenchNode(c, lister, o);
  }
  if (command == "bench-cycles") {
    if (image.empty() || count <= 0) {
      fputs(kUsage, stderr);
      return 2;
    }
    return BenchCycles(c, image, count, prefix, log_root, host_network);
  }
  if (command == "events") return Events(target, stall);
  fputs(kUsage, stderr);
  return 2;
}
