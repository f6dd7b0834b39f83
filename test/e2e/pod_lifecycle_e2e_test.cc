// What must hold across the life of the real cricketd: a kill -9 and restart with pods running (state,
// reachability, exits that happened meanwhile, no second CNI ADD), nothing left on the host after 50
// create/remove cycles, bad input refused with the right code and nothing left behind, and a container
// whose cricket-conmon was killed. Needs root; skips otherwise (see pod_fixture.h).
#include <gmock/gmock.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/pidfd.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Joined(const Leftovers& l) { return Join(l, "\n"); }

// The verbose status info of a container.
nlohmann::json Info(const v1::ContainerStatusResponse& resp) {
  if (!resp.info().contains("info")) return nlohmann::json::object();
  auto j = nlohmann::json::parse(resp.info().at("info"), nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

bool Alive(int pid) {
  return pid > 0 && ::kill(pid, 0) == 0 && sys::ReadProcessState(pid).value_or('X') != 'Z';
}

TEST_F(PodE2eTest, RestartWithTenPodsRunning) {
  constexpr int kPods = 10;
  struct Pod {
    v1::PodSandboxConfig config;
    std::string id, container, ip;
    int pid = 0;
  };
  std::vector<Pod> pods(kPods);
  for (int i = 0; i < kPods; ++i) {
    Pod& p = pods[i];
    p.config = PodConfig(StrCat("restart-", i));
    p.id = MustRunPod(p.config);
    ASSERT_FALSE(p.id.empty());
    p.container =
        MustRunContainer(p.id, p.config,
                         ShellContainer("web", StrCat("mkdir /www && echo pod-", i,
                                                      " > /www/index.html && exec httpd -f -p 80 -h /www")));
    ASSERT_FALSE(p.container.empty());
    p.ip = PodStatus(p.id).network().ip();
    ASSERT_TRUE(p.ip.starts_with(subnet_prefix())) << p.ip;
  }
  // One more container, in the first pod, ends while cricketd is down: SIGUSR1 makes it exit 7.
  std::string victim =
      MustRunContainer(pods[0].id, pods[0].config,
                       ShellContainer("victim", "trap 'exit 7' USR1; while true; do sleep 0.05; done"));
  for (Pod& p : pods) {
    ASSERT_TRUE(WaitForState(p.container, v1::CONTAINER_RUNNING, 10'000));
    p.pid = ContainerPid(p.container);
    ASSERT_GT(p.pid, 0);
  }
  int victim_pid = ContainerPid(victim);
  ASSERT_GT(victim_pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the trap is set
  for (int i = 0; i < kPods; ++i) {
    EXPECT_THAT(HttpGet(pods[i].ip, 80, "/index.html"), HasSubstr(StrCat("pod-", i))) << pods[i].ip;
  }

  KillDaemon();
  int64_t killed_at = RealtimeNow();
  ASSERT_EQ(::kill(victim_pid, SIGUSR1), 0);
  for (int i = 0; i < 100 && Alive(victim_pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int64_t exited_by = RealtimeNow();
  // Everything runs on without the daemon.
  for (const Pod& p : pods) EXPECT_TRUE(Alive(p.pid)) << p.pid;
  StartDaemon();

  std::vector<v1::PodSandbox> listed = ListPods();
  ASSERT_EQ(listed.size(), static_cast<size_t>(kPods));
  for (const v1::PodSandbox& p : listed) EXPECT_EQ(p.state(), v1::SANDBOX_READY) << p.id();
  v1::ContainerFilter running;
  running.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  EXPECT_EQ(ListContainers(running).size(), static_cast<size_t>(kPods));
  for (int i = 0; i < kPods; ++i) {
    const Pod& p = pods[i];
    v1::PodSandboxStatus ps = PodStatus(p.id);
    EXPECT_EQ(ps.state(), v1::SANDBOX_READY);
    EXPECT_EQ(ps.network().ip(), p.ip);
    EXPECT_EQ(ContainerStatus(p.container).state(), v1::CONTAINER_RUNNING);
    EXPECT_EQ(ContainerPid(p.container), p.pid);
    EXPECT_THAT(HttpGet(p.ip, 80, "/index.html"), HasSubstr(StrCat("pod-", i))) << p.ip;
    EXPECT_EQ(CniCalls("ADD", p.id), 1) << "pod " << i;
    EXPECT_EQ(CniCalls("DEL", p.id), 0) << "pod " << i;
  }
  EXPECT_EQ(IpamLeft().size(), static_cast<size_t>(kPods)) << Joined(IpamLeft());
  v1::ContainerStatus v = ContainerStatus(victim);
  EXPECT_EQ(v.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(v.exit_code(), 7);
  EXPECT_EQ(v.reason(), "Error");
  EXPECT_GE(v.finished_at(), killed_at);
  EXPECT_LE(v.finished_at(), exited_by);
  // The restarted daemon drives what the old one made: exec, stop, remove.
  EXPECT_EQ(MustExec(pods[1].container, "cat /www/index.html"), "pod-1\n");
  for (const Pod& p : pods) {
    ASSERT_TRUE(StopPod(p.id).ok());
    ASSERT_TRUE(RemovePod(p.id).ok());
    EXPECT_EQ(CniCalls("DEL", p.id), 1);
  }
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

TEST_F(PodE2eTest, NothingLeftAfterFiftyCreateRemoveCycles) {
  constexpr int kCycles = 50;
  int64_t t0 = MonotonicNow();
  for (int i = 0; i < kCycles; ++i) {
    v1::PodSandboxConfig pod = PodConfig(StrCat("cycle-", i));
    std::string pod_id = MustRunPod(pod);
    ASSERT_FALSE(pod_id.empty());
    std::string id = MustRunContainer(pod_id, pod, ContainerConfig("main", {"sleep", "1000"}));
    ASSERT_FALSE(id.empty());
    if (i == 0) {
      // Each detector sees what a live pod holds, so an empty result below means something.
      ASSERT_TRUE(WaitForState(id, v1::CONTAINER_RUNNING, 10'000));
      EXPECT_FALSE(MountsLeft().empty());
      EXPECT_FALSE(PinsLeft().empty());
      EXPECT_FALSE(CgroupsLeft().empty());
      EXPECT_FALSE(ProcessesLeft().empty());
      EXPECT_EQ(IpamLeft().size(), 1u);
      EXPECT_EQ(VethsLeft().size(), 1u);
      EXPECT_FALSE(RecordsLeft().empty());
    }
    ASSERT_TRUE(StopPod(pod_id).ok());
    ASSERT_TRUE(RemovePod(pod_id).ok());
  }
  double per_cycle_ms = static_cast<double>(MonotonicNow() - t0) / 1e6 / kCycles;
  RecordProperty("cycle_ms", StrCat(static_cast<int>(per_cycle_ms)));
  std::cout << "[ figures  ] pod + container create/start/stop/remove cycle: " << per_cycle_ms << " ms\n";
  EXPECT_TRUE(ListPods().empty());
  EXPECT_TRUE(ListContainers().empty());
  EXPECT_THAT(MountsLeft(), IsEmpty()) << Joined(MountsLeft());
  EXPECT_THAT(PinsLeft(), IsEmpty()) << Joined(PinsLeft());
  EXPECT_THAT(CgroupsLeft(), IsEmpty()) << Joined(CgroupsLeft());
  EXPECT_THAT(ProcessesLeft(), IsEmpty()) << Joined(ProcessesLeft());
  EXPECT_THAT(IpamLeft(), IsEmpty()) << Joined(IpamLeft());
  EXPECT_THAT(VethsLeft(), IsEmpty()) << Joined(VethsLeft());
  EXPECT_THAT(RecordsLeft(), IsEmpty()) << Joined(RecordsLeft());
  // One ADD and one DEL per pod.
  int adds = 0, dels = 0;
  const std::string log = ReadFile(cni_log()).value_or("");  // outlives the views Split returns
  for (std::string_view line : Split(log, '\n')) {
    adds += line.starts_with("ADD bridge ");
    dels += line.starts_with("DEL bridge ");
  }
  EXPECT_EQ(adds, kCycles);
  EXPECT_EQ(dels, kCycles);
}

TEST_F(PodE2eTest, UnknownIdsAreNotFoundForStatusAndSuccessForStopAndRemove) {
  const std::string unknown = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  v1::ContainerStatusResponse cs;
  EXPECT_EQ(GetContainerStatus(unknown, &cs).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::PodSandboxStatusResponse ps;
  EXPECT_EQ(GetPodStatus(unknown, &ps).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StartContainer(unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Exec(unknown, {"true"}).status.error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    v1::ReopenContainerLogRequest req;
    req.set_container_id(unknown);
    v1::ReopenContainerLogResponse resp;
    EXPECT_EQ(rt().ReopenContainerLog(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateContainerResourcesRequest req;
    req.set_container_id(unknown);
    v1::UpdateContainerResourcesResponse resp;
    EXPECT_EQ(rt().UpdateContainerResources(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_TRUE(StopContainer(unknown).ok());
  EXPECT_TRUE(RemoveContainer(unknown).ok());
  EXPECT_TRUE(StopPod(unknown).ok());
  EXPECT_TRUE(RemovePod(unknown).ok());

  // Twice in a row on real objects.
  v1::PodSandboxConfig pod = PodConfig("twice");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id = MustRunContainer(pod_id, pod, ContainerConfig("c", {"sleep", "1000"}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(StopContainer(id).ok()) << i;
    EXPECT_TRUE(RemoveContainer(id).ok()) << i;
  }
  EXPECT_EQ(GetContainerStatus(id, &cs).error_code(), grpc::StatusCode::NOT_FOUND);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(StopPod(pod_id).ok()) << i;
    EXPECT_TRUE(RemovePod(pod_id).ok()) << i;
  }
  EXPECT_EQ(GetPodStatus(pod_id, &ps).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

TEST_F(PodE2eTest, BadPodConfigsAreInvalidArgumentAndLeaveNothing) {
  struct Case {
    std::string what;
    std::function<void(v1::PodSandboxConfig&)> spoil;
    std::string named;  // the error names this
  };
  std::vector<Case> cases = {
      {"no metadata", [](v1::PodSandboxConfig& c) { c.clear_metadata(); }, "metadata"},
      {"no name", [](v1::PodSandboxConfig& c) { c.mutable_metadata()->clear_name(); }, "metadata.name"},
      {"no namespace", [](v1::PodSandboxConfig& c) { c.mutable_metadata()->clear_namespace_(); },
       "metadata.namespace"},
      {"no uid", [](v1::PodSandboxConfig& c) { c.mutable_metadata()->clear_uid(); }, "metadata.uid"},
      {"bad hostname", [](v1::PodSandboxConfig& c) { c.set_hostname("not_a/host name"); }, "hostname"},
      {"host sysctl",
       [](v1::PodSandboxConfig& c) { (*c.mutable_linux()->mutable_sysctls())["kernel.panic"] = "1"; },
       "kernel.panic"},
      {"bad port", [](v1::PodSandboxConfig& c) { c.add_port_mappings()->set_container_port(70000); },
       "70000"},
  };
  for (const Case& k : cases) {
    v1::PodSandboxConfig pod = PodConfig("bad-pod");
    k.spoil(pod);
    std::string id;
    grpc::Status st = RunPod(pod, &id);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << k.what << ": " << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(k.named)) << k.what;
    EXPECT_TRUE(ListPods().empty()) << k.what;
    EXPECT_THAT(AllLeft(), IsEmpty()) << k.what << "\n" << Joined(AllLeft());
    EXPECT_EQ(CniCalls("ADD", id), 0) << k.what;
  }
  // The same name works once the config is right: nothing was reserved by the failures.
  EXPECT_FALSE(MustRunPod(PodConfig("bad-pod")).empty());
}

TEST_F(PodE2eTest, BadContainerConfigsAreRefusedAndLeaveNothing) {
  v1::PodSandboxConfig pod = PodConfig("bad-containers");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  Leftovers before = AllLeft();
  struct Case {
    std::string what;
    std::function<void(v1::ContainerConfig&)> spoil;
    grpc::StatusCode code;
    std::string named;
  };
  std::vector<Case> cases = {
      {"no metadata", [](v1::ContainerConfig& c) { c.clear_metadata(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "metadata"},
      {"no image", [](v1::ContainerConfig& c) { c.clear_image(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "image"},
      {"relative working_dir", [](v1::ContainerConfig& c) { c.set_working_dir("relative/dir"); },
       grpc::StatusCode::INVALID_ARGUMENT, "working_dir"},
      {"unknown capability",
       [](v1::ContainerConfig& c) {
         c.mutable_linux()->mutable_security_context()->mutable_capabilities()->add_add_capabilities(
             "CAP_BOGUS");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "BOGUS"},
      {"relative mount",
       [](v1::ContainerConfig& c) {
         v1::Mount* m = c.add_mounts();
         m->set_host_path("/tmp");
         m->set_container_path("data");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "data"},
      {"image not present",
       [](v1::ContainerConfig& c) { c.mutable_image()->set_image("docker.io/library/not-pulled:1"); },
       grpc::StatusCode::NOT_FOUND, "not present"},
  };
  for (const Case& k : cases) {
    v1::ContainerConfig c = ContainerConfig("bad", {"sleep", "1000"});
    k.spoil(c);
    std::string id;
    grpc::Status st = CreateContainer(pod_id, pod, c, &id);
    EXPECT_EQ(st.error_code(), k.code) << k.what << ": " << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(k.named)) << k.what;
    EXPECT_TRUE(ListContainers().empty()) << k.what;
    EXPECT_EQ(AllLeft(), before) << k.what;
  }
  // A container in a pod that does not exist.
  std::string id;
  EXPECT_EQ(CreateContainer("feedfacefeedface", pod, ContainerConfig("x", {"true"}), &id).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The name was not kept by any failure.
  EXPECT_FALSE(MustRunContainer(pod_id, pod, ContainerConfig("bad", {"sleep", "1000"})).empty());
}

TEST_F(PodE2eTest, KilledMonitorLeavesTheContainerRunningAndItsExitIsStillNoticed) {
  v1::PodSandboxConfig pod = PodConfig("monitor");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id = MustRunContainer(pod_id, pod, ContainerConfig("main", {"sleep", "1000"}));
  std::string other = MustRunContainer(pod_id, pod, ContainerConfig("other", {"sleep", "1001"}));
  ASSERT_TRUE(WaitForState(id, v1::CONTAINER_RUNNING, 10'000));
  auto monitor_of = [&](const std::string& cid) {
    v1::ContainerStatusResponse resp;
    EXPECT_TRUE(GetContainerStatus(cid, &resp, true).ok());
    return Info(resp).value("monitorPid", 0);
  };
  int monitor = monitor_of(id);
  int pid = ContainerPid(id);
  ASSERT_GT(monitor, 0);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 100 && Alive(monitor); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(Alive(monitor));

  // The container does not notice; cricketd still reports it running and can exec in it.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(Alive(pid));
  v1::ContainerStatus st = ContainerStatus(id);
  EXPECT_EQ(st.state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(MustExec(id, "echo alive"), "alive\n");

  // Its end is noticed without an exit file.
  int64_t killed_at = RealtimeNow();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(WaitForState(id, v1::CONTAINER_EXITED, 30'000, &st)) << "still " << st.state();
  EXPECT_THAT(st.exit_code(), AnyOf(137, 255));
  EXPECT_EQ(st.reason(), "Error");
  EXPECT_THAT(st.message(), HasSubstr("monitor"));
  EXPECT_GE(st.finished_at(), killed_at);

  // A second container's monitor killed, then StopContainer: prompt, and the state settles.
  int other_monitor = monitor_of(other);
  ASSERT_GT(other_monitor, 0);
  ASSERT_EQ(::kill(other_monitor, SIGKILL), 0);
  for (int i = 0; i < 100 && Alive(other_monitor); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(StopContainer(other, 0).ok());
  EXPECT_EQ(ContainerStatus(other).state(), v1::CONTAINER_EXITED);

  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

}  // namespace
}  // namespace cricket::e2e
