// The stats RPCs of the real cricketd: ContainerStats, ListContainerStats, PodSandboxStats and
// ListPodSandboxStats with busybox containers in pods on a CNI bridge of the test's own. A container
// burning CPU shows usage_nano_cores > 0 on the second reading; the working set grows by what a
// container writes to its pod's /dev/shm (tmpfs pages are charged to the writer's memory cgroup); the
// writable layer grows by a file written into the rootfs; the pod's network counters grow with
// traffic to the bridge; a pod with a cgroup parent is measured on that cgroup (a process the test
// puts there is counted). Needs root, docker-registry, python3 and the CNI plugins in /usr/lib/cni.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"

namespace cricket::e2e {
namespace {

namespace v1 = ::runtime::v1;
using testing::TestRegistry;

constexpr char kImage[] = "docker.io/library/busybox:latest";
constexpr char kBridge[] = "crkstats0";
constexpr char kGateway[] = "10.233.7.1";
constexpr uint64_t kMiB = 1 << 20;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 60) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Runs a shell command line; returns its exit status and output.
std::pair<int, std::string> Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The v1 hierarchies' directories of an absolute cgroup path (this host is cgroup v1 or hybrid; on
// pure v2 the unified mount itself).
std::vector<std::string> CgroupDirs(const std::string& cgroup) {
  std::vector<std::string> dirs;
  for (const std::string& h : ListDir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    std::string d = StrCat("/sys/fs/cgroup/", h, cgroup);
    if (PathExists(d)) dirs.push_back(d);
  }
  if (PathExists("/sys/fs/cgroup/cgroup.controllers") && PathExists("/sys/fs/cgroup" + cgroup)) {
    dirs.push_back("/sys/fs/cgroup" + cgroup);
  }
  return dirs;
}

class StatsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    if (!TestRegistry::Available() || !PathExists("/usr/lib/cni/bridge") || !PathExists("/usr/bin/python3")) {
      return;
    }
    auto reg = TestRegistry::Start();
    if (!reg.ok()) {
      setup_error_ = StrCat("registry: ", reg.status().ToString());
      return;
    }
    registry_ = std::move(*reg);
    daemon_ = new TestDaemon();
    std::string conf = daemon_->dir() + "/registries.conf";
    auto [rc, out] = Shell(StrCat(CRICKET_SOURCE_DIR, "/hack/test-images --registry ", registry_->host(),
                                  " --only library/busybox --registries-conf ", conf));
    if (rc != 0) {
      setup_error_ = "hack/test-images failed: " + out;
      return;
    }
    // A bridge network of this test's own (name and subnet unused elsewhere), without masquerading.
    std::string conflist =
        StrCat(R"({"cniVersion":"1.0.0","name":"stats-e2e","plugins":[{"type":"bridge",)", R"("bridge":")",
               kBridge, R"(","isGateway":true,"ipMasq":false,"ipam":{)",
               R"("type":"host-local","ranges":[[{"subnet":"10.233.7.0/24"}]],)",
               R"("routes":[{"dst":"0.0.0.0/0"}],"dataDir":")", daemon_->dir(), R"(/ipam"}}]})");
    if (absl::Status s = WriteFileAtomic(daemon_->cni_dir() + "/10-stats.conflist", conflist); !s.ok()) {
      setup_error_ = s.ToString();
      return;
    }
    daemon_->set_extra_config(
        StrCat("[crio.image]\nregistries_conf = \"", conf, "\"\nregistries_conf_dir = \"\"\n"));
    if (absl::Status s = daemon_->Start(); !s.ok()) {
      setup_error_ = StrCat("cricketd: ", s.ToString());
      return;
    }
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(kImage);
    v1::PullImageResponse pulled;
    grpc::Status st = daemon_->ImageStub()->PullImage(Ctx(300).get(), pull, &pulled);
    if (!st.ok()) setup_error_ = "pull: " + st.error_message();
  }

  static void TearDownTestSuite() {
    if (daemon_ != nullptr) {
      std::string ns = daemon_->runroot() + "/ns";
      if (daemon_->pid() > 0) (void)daemon_->Stop(SIGTERM);
      // Namespace pins live on a mount of their own that outlives cricketd.
      if (PathExists(ns)) ::umount2(ns.c_str(), MNT_DETACH);
      delete daemon_;
      daemon_ = nullptr;
    }
    registry_.reset();
    Shell(StrCat("ip link del ", kBridge));
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "cricketd needs root";
    if (!TestRegistry::Available()) GTEST_SKIP() << "/usr/bin/docker-registry is not installed";
    if (!PathExists("/usr/lib/cni/bridge")) GTEST_SKIP() << "the CNI plugins are not in /usr/lib/cni";
    if (!PathExists("/usr/bin/python3")) GTEST_SKIP() << "python3 (hack/test-images) is not installed";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_ << (daemon_ ? daemon_->Stderr() : "");
    rt_ = daemon_->RuntimeStub();
  }

  void TearDown() override {
    for (const std::string& id : pods_) {
      v1::RemovePodSandboxRequest rm;
      rm.set_pod_sandbox_id(id);
      v1::RemovePodSandboxResponse resp;
      grpc::Status st = rt_->RemovePodSandbox(Ctx().get(), rm, &resp);
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
  }

  v1::PodSandboxConfig PodConfig(const std::string& name, const std::string& cgroup_parent = "") {
    v1::PodSandboxConfig pod;
    pod.mutable_metadata()->set_name(name);
    pod.mutable_metadata()->set_namespace_("stats-e2e");
    pod.mutable_metadata()->set_uid(name + "-uid");
    pod.set_hostname(name);
    pod.set_log_directory(StrCat(daemon_->dir(), "/pod-logs/", name));
    (*pod.mutable_labels())["suite"] = "stats";
    (*pod.mutable_labels())["pod"] = name;
    if (!cgroup_parent.empty()) pod.mutable_linux()->set_cgroup_parent(cgroup_parent);
    return pod;
  }

  std::string RunPod(const v1::PodSandboxConfig& pod) {
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = pod;
    v1::RunPodSandboxResponse resp;
    grpc::Status st = rt_->RunPodSandbox(Ctx(120).get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message() << daemon_->Stderr();
    if (st.ok()) pods_.push_back(resp.pod_sandbox_id());
    return resp.pod_sandbox_id();
  }

  // Creates and starts `sh -c script` in the pod.
  std::string RunContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                           const std::string& name, const std::string& script, bool start = true) {
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod_id);
    *create.mutable_sandbox_config() = pod;
    v1::ContainerConfig* c = create.mutable_config();
    c->mutable_metadata()->set_name(name);
    c->mutable_image()->set_image(kImage);
    c->add_command("sh");
    c->add_command("-c");
    c->add_command(script);
    c->set_log_path(name + ".log");
    (*c->mutable_labels())["role"] = name;
    v1::CreateContainerResponse created;
    grpc::Status st = rt_->CreateContainer(Ctx().get(), create, &created);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (!st.ok() || !start) return created.container_id();
    v1::StartContainerRequest sreq;
    sreq.set_container_id(created.container_id());
    v1::StartContainerResponse sresp;
    st = rt_->StartContainer(Ctx().get(), sreq, &sresp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return created.container_id();
  }

  v1::ExecSyncResponse Exec(const std::string& id, const std::string& script) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    req.add_cmd("sh");
    req.add_cmd("-c");
    req.add_cmd(script);
    req.set_timeout(30);
    v1::ExecSyncResponse resp;
    grpc::Status st = rt_->ExecSync(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.exit_code(), 0) << resp.stderr();
    return resp;
  }

  v1::ContainerStats ContainerStats(const std::string& id) {
    v1::ContainerStatsRequest req;
    req.set_container_id(id);
    v1::ContainerStatsResponse resp;
    grpc::Status st = rt_->ContainerStats(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.stats();
  }

  std::vector<std::string> ListContainerStatsIds(const v1::ContainerStatsFilter& filter) {
    v1::ListContainerStatsRequest req;
    *req.mutable_filter() = filter;
    v1::ListContainerStatsResponse resp;
    grpc::Status st = rt_->ListContainerStats(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<std::string> ids;
    for (const auto& s : resp.stats()) ids.push_back(s.attributes().id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  v1::PodSandboxStats PodStats(const std::string& id) {
    v1::PodSandboxStatsRequest req;
    req.set_pod_sandbox_id(id);
    v1::PodSandboxStatsResponse resp;
    grpc::Status st = rt_->PodSandboxStats(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.stats();
  }

  std::vector<std::string> ListPodStatsIds(const v1::PodSandboxStatsFilter& filter) {
    v1::ListPodSandboxStatsRequest req;
    *req.mutable_filter() = filter;
    v1::ListPodSandboxStatsResponse resp;
    grpc::Status st = rt_->ListPodSandboxStats(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<std::string> ids;
    for (const auto& s : resp.stats()) ids.push_back(s.attributes().id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  static inline std::unique_ptr<TestRegistry> registry_;
  static inline TestDaemon* daemon_ = nullptr;
  static inline std::string setup_error_;
  std::unique_ptr<v1::RuntimeService::Stub> rt_;
  std::vector<std::string> pods_;
};

TEST_F(StatsE2eTest, BusyContainerHasACpuRateAndMemoryGrowsAfterAllocating) {
  v1::PodSandboxConfig pod = PodConfig("cpu-mem");
  std::string pod_id = RunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string burner = RunContainer(pod_id, pod, "burner", "while :; do :; done");
  std::string idle = RunContainer(pod_id, pod, "idle", "exec sleep 3600");
  ASSERT_FALSE(HasFailure());

  v1::ContainerStats first = ContainerStats(burner);
  EXPECT_EQ(first.attributes().id(), burner);
  EXPECT_EQ(first.attributes().metadata().name(), "burner");
  EXPECT_EQ(first.attributes().labels().at("role"), "burner");
  EXPECT_GT(first.cpu().timestamp(), 0);
  EXPECT_GT(first.memory().timestamp(), 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  v1::ContainerStats second = ContainerStats(burner);
  ASSERT_TRUE(second.cpu().has_usage_nano_cores()) << second.DebugString();
  EXPECT_GT(second.cpu().usage_nano_cores().value(), 0u);
  // One busy shell loop: at most one core (some slack for timing), usually most of one.
  EXPECT_LT(second.cpu().usage_nano_cores().value(), 1'200'000'000u);
  EXPECT_GT(second.cpu().usage_core_nano_seconds().value(), first.cpu().usage_core_nano_seconds().value());
  EXPECT_GT(second.cpu().timestamp(), first.cpu().timestamp());

  v1::ContainerStats idle_before = ContainerStats(idle);
  uint64_t ws_before = idle_before.memory().working_set_bytes().value();
  EXPECT_GT(idle_before.memory().usage_bytes().value(), 0u);
  Exec(idle, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=40 2>/dev/null");
  v1::ContainerStats idle_after = ContainerStats(idle);
  EXPECT_GE(idle_after.memory().working_set_bytes().value(), ws_before + 38 * kMiB)
      << "before " << ws_before << "\n"
      << idle_after.DebugString();
  EXPECT_GE(idle_after.memory().usage_bytes().value(), idle_after.memory().working_set_bytes().value());
  // The exec'd process faulted its pages in.
  EXPECT_GT(idle_after.memory().page_faults().value(), idle_before.memory().page_faults().value());
  // The idle container's rate, once it has two readings, is far below the burner's.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  v1::ContainerStats idle_rate = ContainerStats(idle);
  ASSERT_TRUE(idle_rate.cpu().has_usage_nano_cores());
  EXPECT_LT(idle_rate.cpu().usage_nano_cores().value(), 100'000'000u);
}

// List calls made back to back (as kubelet's stats provider makes ListPodSandboxStats and
// ListContainerStats) share one reading per container, timestamps included; a single-object call, or a
// list a second later, reads anew.
TEST_F(StatsE2eTest, ListCallsWithinASecondShareAReading) {
  v1::PodSandboxConfig pod = PodConfig("shared-reading");
  std::string pod_id = RunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string c = RunContainer(pod_id, pod, "loop", "while :; do :; done");
  ASSERT_FALSE(HasFailure());
  auto list_cpu = [&]() -> v1::CpuUsage {
    v1::ListContainerStatsRequest req;
    req.mutable_filter()->set_id(c);
    v1::ListContainerStatsResponse resp;
    grpc::Status st = rt_->ListContainerStats(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.stats_size() == 1 ? resp.stats(0).cpu() : v1::CpuUsage();
  };
  v1::CpuUsage first = list_cpu();
  ASSERT_GT(first.timestamp(), 0);
  v1::ListPodSandboxStatsRequest pods_req;
  pods_req.mutable_filter()->set_id(pod_id);
  v1::ListPodSandboxStatsResponse pods;
  ASSERT_TRUE(rt_->ListPodSandboxStats(Ctx().get(), pods_req, &pods).ok());
  ASSERT_EQ(pods.stats_size(), 1);
  ASSERT_EQ(pods.stats(0).linux().containers_size(), 1);
  v1::CpuUsage in_pod = pods.stats(0).linux().containers(0).cpu();
  EXPECT_EQ(in_pod.timestamp(), first.timestamp());
  EXPECT_EQ(in_pod.usage_core_nano_seconds().value(), first.usage_core_nano_seconds().value());
  // A single-object call reads the busy loop's cgroup again: a reading of its own (its timestamp). The
  // usage may not have moved yet (the loop has just started and may not have run in between on a busy
  // machine), so only "not less" is certain here; the list a second later must see it grow.
  v1::ContainerStats single = ContainerStats(c);
  EXPECT_GT(single.cpu().timestamp(), first.timestamp());
  EXPECT_GE(single.cpu().usage_core_nano_seconds().value(), first.usage_core_nano_seconds().value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  v1::CpuUsage later = list_cpu();
  EXPECT_GT(later.timestamp(), single.cpu().timestamp());
  EXPECT_GT(later.usage_core_nano_seconds().value(), single.cpu().usage_core_nano_seconds().value());
}

TEST_F(StatsE2eTest, WritableLayerGrowsWithWrittenFiles) {
  v1::PodSandboxConfig pod = PodConfig("writable");
  std::string pod_id = RunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string c = RunContainer(pod_id, pod, "writer", "exec sleep 3600");
  ASSERT_FALSE(HasFailure());
  v1::ContainerStats before = ContainerStats(c);
  ASSERT_TRUE(before.has_writable_layer()) << before.DebugString();
  EXPECT_FALSE(before.writable_layer().fs_id().mountpoint().empty());
  EXPECT_GT(before.writable_layer().timestamp(), 0);
  Exec(c, "mkdir -p /data/a /data/b && dd if=/dev/zero of=/data/a/blob bs=64k count=32 2>/dev/null && sync");
  v1::ContainerStats after = ContainerStats(c);
  EXPECT_GE(after.writable_layer().used_bytes().value(),
            before.writable_layer().used_bytes().value() + 2 * kMiB);
  EXPECT_GE(after.writable_layer().inodes_used().value(), before.writable_layer().inodes_used().value() + 4);
}

TEST_F(StatsE2eTest, ListContainerStatsFilters) {
  v1::PodSandboxConfig pod_a = PodConfig("list-a");
  v1::PodSandboxConfig pod_b = PodConfig("list-b");
  std::string a = RunPod(pod_a);
  std::string b = RunPod(pod_b);
  ASSERT_FALSE(a.empty() || b.empty());
  std::string a1 = RunContainer(a, pod_a, "one", "exec sleep 3600");
  std::string a2 = RunContainer(a, pod_a, "two", "exec sleep 3600");
  std::string b1 = RunContainer(b, pod_b, "one", "exec sleep 3600");
  std::string b_created = RunContainer(b, pod_b, "created", "exec sleep 3600", /*start=*/false);
  ASSERT_FALSE(HasFailure());

  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  std::vector<std::string> all = ListContainerStatsIds({});
  for (const std::string& id : {a1, a2, b1, b_created}) {
    EXPECT_NE(std::find(all.begin(), all.end(), id), all.end()) << id;
  }
  v1::ContainerStatsFilter f;
  f.set_id(a2);
  EXPECT_EQ(ListContainerStatsIds(f), std::vector<std::string>{a2});
  f.set_id(a2.substr(0, 12));  // crictl's abbreviated ids
  EXPECT_EQ(ListContainerStatsIds(f), std::vector<std::string>{a2});
  f.Clear();
  f.set_pod_sandbox_id(a);
  EXPECT_EQ(ListContainerStatsIds(f), sorted({a1, a2}));
  f.Clear();
  f.set_pod_sandbox_id(b);
  (*f.mutable_label_selector())["role"] = "one";
  EXPECT_EQ(ListContainerStatsIds(f), std::vector<std::string>{b1});
  f.Clear();
  (*f.mutable_label_selector())["role"] = "one";
  EXPECT_EQ(ListContainerStatsIds(f), sorted({a1, b1}));
  (*f.mutable_label_selector())["role"] = "nobody";
  EXPECT_TRUE(ListContainerStatsIds(f).empty());
  f.Clear();
  f.set_id("0000000000000000");
  EXPECT_TRUE(ListContainerStatsIds(f).empty());

  // A created container already has its cgroup (its init waits for StartContainer).
  v1::ContainerStats created = ContainerStats(b_created);
  EXPECT_TRUE(created.has_cpu()) << created.DebugString();
  EXPECT_TRUE(created.has_writable_layer());

  // An exited container keeps its attributes and writable layer, without cgroup figures.
  v1::StopContainerRequest stop;
  stop.set_container_id(b1);
  v1::StopContainerResponse stopped;
  ASSERT_TRUE(rt_->StopContainer(Ctx().get(), stop, &stopped).ok());
  v1::ContainerStats exited = ContainerStats(b1);
  EXPECT_EQ(exited.attributes().id(), b1);
  EXPECT_FALSE(exited.has_cpu());
  EXPECT_FALSE(exited.has_memory());
  EXPECT_TRUE(exited.has_writable_layer());

  v1::ContainerStatsRequest missing;
  missing.set_container_id("does-not-exist");
  v1::ContainerStatsResponse resp;
  EXPECT_EQ(rt_->ContainerStats(Ctx().get(), missing, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StatsE2eTest, PodStatsSumTheContainersAndCountNetworkTraffic) {
  v1::PodSandboxConfig pod = PodConfig("pod-sum");
  std::string pod_id = RunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string burner = RunContainer(pod_id, pod, "burner", "while :; do :; done");
  std::string idle = RunContainer(pod_id, pod, "idle", "exec sleep 3600");
  ASSERT_FALSE(HasFailure());
  Exec(idle, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 2>/dev/null");

  v1::PodSandboxStats first = PodStats(pod_id);
  EXPECT_EQ(first.attributes().id(), pod_id);
  EXPECT_EQ(first.attributes().metadata().name(), "pod-sum");
  EXPECT_EQ(first.attributes().labels().at("pod"), "pod-sum");
  const v1::LinuxPodSandboxStats& l = first.linux();
  ASSERT_EQ(l.containers_size(), 2);
  uint64_t container_cpu = 0;
  uint64_t container_ws = 0;
  for (const auto& c : l.containers()) {
    container_cpu += c.cpu().usage_core_nano_seconds().value();
    container_ws += c.memory().working_set_bytes().value();
  }
  EXPECT_GE(container_ws, 16 * kMiB);
  // The pod is its infra container plus its containers, read just after them.
  EXPECT_GE(l.cpu().usage_core_nano_seconds().value(), container_cpu);
  EXPECT_GE(l.memory().working_set_bytes().value(), container_ws);
  EXPECT_EQ(l.process().process_count().value(), 3u) << l.DebugString();  // pause, the loop, sleep
  ASSERT_TRUE(l.has_network()) << l.DebugString();
  EXPECT_EQ(l.network().default_interface().name(), "eth0");
  uint64_t tx_before = l.network().default_interface().tx_bytes().value();
  uint64_t rx_before = l.network().default_interface().rx_bytes().value();
  for (const auto& i : l.network().interfaces()) EXPECT_NE(i.name(), "lo");

  // A TCP connection attempt to the bridge's address (refused): packets both ways.
  Exec(idle, StrCat("wget -q -T 2 -O /dev/null http://", kGateway, ":9/ 2>/dev/null; true"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  v1::PodSandboxStats second = PodStats(pod_id);
  EXPECT_GT(second.linux().network().default_interface().tx_bytes().value(), tx_before);
  EXPECT_GT(second.linux().network().default_interface().rx_bytes().value(), rx_before);
  ASSERT_TRUE(second.linux().cpu().has_usage_nano_cores()) << second.linux().DebugString();
  EXPECT_GT(second.linux().cpu().usage_nano_cores().value(), 0u);

  v1::PodSandboxStatsRequest missing;
  missing.set_pod_sandbox_id("does-not-exist");
  v1::PodSandboxStatsResponse resp;
  EXPECT_EQ(rt_->PodSandboxStats(Ctx().get(), missing, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StatsE2eTest, PodWithACgroupParentIsMeasuredOnThatCgroup) {
  std::string parent = StrCat("/cricket-stats-e2e-", getpid());
  v1::PodSandboxConfig pod = PodConfig("parent", parent);
  std::string pod_id = RunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string c = RunContainer(pod_id, pod, "sleeper", "exec sleep 3600");
  ASSERT_FALSE(HasFailure());

  // A process of the test's own under the pod's cgroup (not in any container's): only a reading of the
  // parent cgroup counts it. It gets a leaf cgroup of its own below the parent, as a node agent's would:
  // on cgroup v2 (the unified hierarchy of a hybrid host too) the parent has controllers enabled for its
  // children and so may hold no process itself.
  pid_t extra = ::fork();
  ASSERT_GE(extra, 0);
  if (extra == 0) {
    ::pause();
    ::_exit(0);
  }
  std::vector<std::string> dirs = CgroupDirs(parent);
  EXPECT_FALSE(dirs.empty());
  std::vector<std::string> leaves;
  for (const std::string& d : dirs) {
    std::string leaf = d + "/agent";
    ASSERT_EQ(::mkdir(leaf.c_str(), 0755), 0) << leaf;
    leaves.push_back(leaf);
    // v1 cpuset: a new cgroup has no cpus or mems, and takes no process until it has both.
    if (PathExists(leaf + "/cpuset.cpus") && !PathExists(leaf + "/cgroup.controllers")) {
      for (const char* file : {"/cpuset.cpus", "/cpuset.mems"}) {
        FILE* f = fopen((leaf + file).c_str(), "w");
        ASSERT_NE(f, nullptr) << leaf << file;
        fputs(ReadFile(d + file).value_or("").c_str(), f);
        EXPECT_EQ(fclose(f), 0) << leaf << file;
      }
    }
    FILE* f = fopen((leaf + "/cgroup.procs").c_str(), "w");
    ASSERT_NE(f, nullptr) << leaf;
    fprintf(f, "%d\n", extra);
    EXPECT_EQ(fclose(f), 0) << leaf;
  }
  v1::PodSandboxStats st = PodStats(pod_id);
  EXPECT_EQ(st.linux().process().process_count().value(), 3u) << st.linux().DebugString();
  EXPECT_GE(st.linux().memory().usage_bytes().value(),
            st.linux().containers(0).memory().usage_bytes().value());

  ::kill(extra, SIGKILL);
  ::waitpid(extra, nullptr, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  st = PodStats(pod_id);
  EXPECT_EQ(st.linux().process().process_count().value(), 2u) << st.linux().DebugString();

  // Removing the pod leaves the parent (kubelet's to remove): the test removes it.
  v1::RemovePodSandboxRequest rm;
  rm.set_pod_sandbox_id(pod_id);
  v1::RemovePodSandboxResponse removed;
  ASSERT_TRUE(rt_->RemovePodSandbox(Ctx().get(), rm, &removed).ok());
  pods_.clear();
  for (const std::string& leaf : leaves) EXPECT_EQ(::rmdir(leaf.c_str()), 0) << leaf;
  for (const std::string& d : CgroupDirs(parent)) EXPECT_EQ(::rmdir(d.c_str()), 0) << d;
}

TEST_F(StatsE2eTest, ListPodSandboxStatsFilters) {
  v1::PodSandboxConfig pod_a = PodConfig("plist-a");
  v1::PodSandboxConfig pod_b = PodConfig("plist-b");
  std::string a = RunPod(pod_a);
  std::string b = RunPod(pod_b);
  ASSERT_FALSE(a.empty() || b.empty());
  std::vector<std::string> all = ListPodStatsIds({});
  EXPECT_NE(std::find(all.begin(), all.end(), a), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), b), all.end());
  v1::PodSandboxStatsFilter f;
  f.set_id(b);
  EXPECT_EQ(ListPodStatsIds(f), std::vector<std::string>{b});
  f.set_id(b.substr(0, 10));
  EXPECT_EQ(ListPodStatsIds(f), std::vector<std::string>{b});
  f.Clear();
  (*f.mutable_label_selector())["pod"] = "plist-a";
  EXPECT_EQ(ListPodStatsIds(f), std::vector<std::string>{a});
  (*f.mutable_label_selector())["suite"] = "other";
  EXPECT_TRUE(ListPodStatsIds(f).empty());

  // A stopped pod is not listed; asked for directly, it has attributes only.
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(a);
  v1::StopPodSandboxResponse stopped;
  ASSERT_TRUE(rt_->StopPodSandbox(Ctx().get(), stop, &stopped).ok());
  all = ListPodStatsIds({});
  EXPECT_EQ(std::find(all.begin(), all.end(), a), all.end());
  v1::PodSandboxStats st = PodStats(a);
  EXPECT_EQ(st.attributes().id(), a);
  EXPECT_FALSE(st.linux().has_cpu());
  EXPECT_FALSE(st.linux().has_network());
}

}  // namespace
}  // namespace cricket::e2e
