// Pod faults and concurrency against the real cricketd, each ending with nothing left behind: the
// storage filesystem full during CreateContainer and RunPodSandbox (a small tmpfs as cricketd's root),
// records damaged while cricketd was down, cricketd's own fd limit reached; and concurrency as kubelet
// produces it (20 RunPodSandbox at once; containers created and removed while their pod is being
// stopped). Needs root; skips otherwise (see pod_fixture.h).
#include <gmock/gmock.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Joined(const Leftovers& l) { return Join(l, "\n"); }

// The pod fixture with cricketd's root (records, intents, image store, CNI cache) on a small tmpfs.
class SmallRootPodTest : public PodE2eTest {
 protected:
  static constexpr int kRootMib = 24;
  void SetUp() override {
    if (geteuid() == 0 && MkdirAll(daemon().root(), 0700).ok() &&
        ::mount("tmpfs", daemon().root().c_str(), "tmpfs", 0,
                StrCat("size=", kRootMib, "m,mode=0700").c_str()) == 0) {
      mounted_ = true;
    }
    PodE2eTest::SetUp();
  }
  void TearDown() override {
    (void)RemoveAll(filler());
    PodE2eTest::TearDown();
    if (mounted_) ::umount2(daemon().root().c_str(), MNT_DETACH);
  }
  std::string filler() { return daemon().root() + "/filler"; }
  // Fills the root filesystem until `leave` bytes are free.
  void Fill(uint64_t leave) {
    (void)RemoveAll(filler());
    struct statvfs vfs;
    ASSERT_EQ(::statvfs(daemon().root().c_str(), &vfs), 0);
    uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    uint64_t size = avail > leave ? avail - leave : 0;
    std::ofstream f(filler(), std::ios::binary);
    std::string chunk(1 << 16, 'x');
    for (uint64_t done = 0; done < size;) {
      uint64_t n = std::min<uint64_t>(chunk.size(), size - done);
      f.write(chunk.data(), static_cast<std::streamsize>(n));
      done += n;
    }
  }
  // Leftovers, minus the tmpfs this fixture mounted itself.
  Leftovers Left() {
    Leftovers out;
    for (const std::string& l : AllLeft()) {
      if (l != "mount " + daemon().root()) out.push_back(l);
    }
    return out;
  }
  bool mounted_ = false;
};

// Every free-space level from none to enough: each CreateContainer either succeeds or fails naming the
// full disk, and a failure leaves nothing of the container.
TEST_F(SmallRootPodTest, StorageFullDuringCreateContainerFailsCleanly) {
  ASSERT_TRUE(mounted_);
  v1::PodSandboxConfig pod = PodConfig("full");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  int failures = 0, successes = 0;
  for (uint64_t leave : {uint64_t{0}, uint64_t{4} << 10, uint64_t{12} << 10, uint64_t{32} << 10,
                         uint64_t{96} << 10, uint64_t{512} << 10}) {
    ASSERT_NO_FATAL_FAILURE(Fill(leave));
    std::string id;
    grpc::Status st =
        CreateContainer(pod_id, pod, ContainerConfig(StrCat("c", leave), {"sleep", "1000"}), &id);
    if (st.ok()) {
      ++successes;
      // A removal on the full disk may fail, but then the container is still there for the retry.
      grpc::Status removed = RemoveContainer(id);
      if (!removed.ok()) {
        EXPECT_EQ(removed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << removed.error_message();
        EXPECT_EQ(ListContainers().size(), 1u) << leave << ": a failed removal lost the container";
        (void)RemoveAll(filler());
        removed = RemoveContainer(id);
      }
      EXPECT_TRUE(removed.ok()) << leave << ": " << removed.error_message();
    } else {
      ++failures;
      EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << leave << ": " << st.error_message();
      EXPECT_THAT(st.error_message(), HasSubstr("ENOSPC")) << leave;
    }
    EXPECT_TRUE(ListContainers().empty()) << leave;
    (void)RemoveAll(filler());
    // Only the pod remains: its records, run directory, pins, infra process. What the failed request's
    // undo could not remove on the full disk (the rootfs record in the store's database) is removed by
    // the janitor, which retries every 2 s, once there is space again.
    std::vector<std::string> stray;
    for (int i = 0; i < 100; ++i) {
      stray.clear();
      for (const std::string& l : RecordsLeft()) {
        if ((absl::StrContains(l, "/containers/") && !absl::StrContains(l, pod_id)) ||
            absl::StrContains(l, "/intents/") || absl::StrContains(l, "overlay-containers")) {
          stray.push_back(l);
        }
      }
      if (stray.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_THAT(stray, IsEmpty()) << leave;
  }
  EXPECT_GT(failures, 0) << "the disk was never full enough";
  // With space again, the pod works.
  std::string id = MustRunContainer(pod_id, pod, ContainerConfig("after", {"sleep", "1000"}));
  EXPECT_TRUE(WaitForState(id, v1::CONTAINER_RUNNING, 10'000));
  ASSERT_TRUE(StopPod(pod_id).ok());
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(Left(), IsEmpty()) << Joined(Left());
  std::cout << "[ figures  ] CreateContainer on a full disk: " << failures << " clean failures, " << successes
            << " successes\n";
}

// The same for RunPodSandbox: the records and the CNI cache live on the full filesystem, so a failure
// can come after the namespaces, the network and the infra container were made; all are rolled back.
TEST_F(SmallRootPodTest, StorageFullDuringRunPodSandboxRollsBackEverything) {
  ASSERT_TRUE(mounted_);
  int failures = 0;
  for (uint64_t leave : {uint64_t{0}, uint64_t{4} << 10, uint64_t{8} << 10, uint64_t{12} << 10,
                         uint64_t{16} << 10, uint64_t{32} << 10, uint64_t{96} << 10}) {
    ASSERT_NO_FATAL_FAILURE(Fill(leave));
    std::string id;
    grpc::Status st = RunPod(PodConfig(StrCat("full-", leave)), &id);
    (void)RemoveAll(filler());
    if (st.ok()) {
      EXPECT_TRUE(StopPod(id).ok());
      EXPECT_TRUE(RemovePod(id).ok());
    } else {
      ++failures;
      EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << leave << ": " << st.error_message();
      EXPECT_THAT(st.error_message(), HasSubstr("ENOSPC")) << leave;
    }
    EXPECT_TRUE(ListPods().empty()) << leave;
    EXPECT_THAT(Left(), IsEmpty()) << leave << ":\n" << Joined(Left());
  }
  EXPECT_GT(failures, 0) << "the disk was never full enough";
  std::string pod_id = MustRunPod(PodConfig("after"));
  EXPECT_FALSE(pod_id.empty());
}

// Records damaged while cricketd was down (a truncated container record, a sandbox record with garbage):
// cricketd starts, names each file, sets it aside, and removes what those objects held on the host; the
// intact pod is untouched.
TEST_F(PodE2eTest, DamagedRecordsAtStartAreNamedSetAsideAndTheirRemainsRemoved) {
  v1::PodSandboxConfig good_pod = PodConfig("intact");
  std::string good = MustRunPod(good_pod);
  std::string good_c = MustRunContainer(good, good_pod, ContainerConfig("c", {"sleep", "1000"}));
  v1::PodSandboxConfig pod_a = PodConfig("a");
  std::string a = MustRunPod(pod_a);
  std::string a_c = MustRunContainer(a, pod_a, ContainerConfig("c", {"sleep", "1000"}));
  v1::PodSandboxConfig pod_b = PodConfig("b");
  std::string b = MustRunPod(pod_b);
  std::string b_c = MustRunContainer(b, pod_b, ContainerConfig("c", {"sleep", "1000"}));
  ASSERT_FALSE(good_c.empty() || a_c.empty() || b_c.empty());
  ASSERT_TRUE(WaitForState(good_c, v1::CONTAINER_RUNNING, 10'000));
  KillDaemon();
  const std::string container_rec = daemon().root() + "/containers/" + a_c + "/container.json";
  const std::string sandbox_rec = daemon().root() + "/pods/" + b + "/sandbox.json";
  std::string text = ReadFile(container_rec).value_or("");
  ASSERT_FALSE(text.empty());
  ASSERT_TRUE(WriteFileAtomic(container_rec, text.substr(0, text.size() / 2), 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(sandbox_rec, "\x01\x02garbage", 0600).ok());
  StartDaemon();
  std::string err = daemon().Stderr();
  EXPECT_THAT(err, HasSubstr(container_rec));
  EXPECT_THAT(err, HasSubstr(sandbox_rec));
  std::set<std::string> pods, containers;
  for (const auto& p : ListPods()) pods.insert(p.id());
  for (const auto& c : ListContainers()) containers.insert(c.id());
  EXPECT_EQ(pods, (std::set<std::string>{good, a}));
  // b's container goes with its sandbox; a's damaged container is gone, a itself stays.
  EXPECT_EQ(containers, (std::set<std::string>{good_c}));
  EXPECT_EQ(ContainerStatus(good_c).state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(MustExec(good_c, "echo ok"), "ok\n");
  EXPECT_EQ(ListDir(daemon().root() + "/damaged").value_or(std::vector<std::string>{}).size(), 2u);
  for (const std::string& l : AllLeft()) {
    for (const std::string& gone : {a_c, b, b_c}) {
      EXPECT_FALSE(absl::StrContains(l, gone)) << "left of a damaged record's object: " << l;
    }
  }
  for (const std::string& p : {good, a}) {
    EXPECT_TRUE(StopPod(p).ok());
    EXPECT_TRUE(RemovePod(p).ok());
  }
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

// cricketd's soft fd limit brought down to what it has open: requests that need descriptors fail with a
// clear error and roll back; cricketd keeps serving and works again once descriptors are available.
TEST_F(PodE2eTest, OwnFdLimitReachedFailsRequestsCleanly) {
  std::string fd_dir = StrCat("/proc/", daemon().pid(), "/fd");
  auto open_fds = [&] { return ListDir(fd_dir).value_or(std::vector<std::string>{}).size(); };
  struct rlimit old_limit;
  ASSERT_EQ(::prlimit(daemon().pid(), RLIMIT_NOFILE, nullptr, &old_limit), 0);
  struct rlimit low = old_limit;
  low.rlim_cur = open_fds() + 2;
  ASSERT_EQ(::prlimit(daemon().pid(), RLIMIT_NOFILE, &low, nullptr), 0);
  std::string id;
  grpc::Status st = RunPod(PodConfig("nofds"), &id);
  std::string msg = st.error_message();
  ASSERT_EQ(::prlimit(daemon().pid(), RLIMIT_NOFILE, &old_limit, nullptr), 0);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << msg;
  EXPECT_THAT(msg, HasSubstr("EMFILE"));
  EXPECT_TRUE(ListPods().empty());
  // What the failed request's undo could not remove without descriptors is removed in the background
  // once they are available again.
  Leftovers left = AllLeft();
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = AllLeft();
  }
  EXPECT_THAT(left, IsEmpty()) << Joined(left);
  v1::PodSandboxConfig pod = PodConfig("fds-again");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  EXPECT_FALSE(MustRunContainer(pod_id, pod, ContainerConfig("c", {"sleep", "1000"})).empty());
}

TEST_F(PodE2eTest, TwentyRunPodSandboxAtOnce) {
  constexpr int kPods = 20;
  std::vector<grpc::Status> results(kPods);
  std::vector<std::string> ids(kPods);
  std::vector<v1::PodSandboxConfig> configs;
  for (int i = 0; i < kPods; ++i) configs.push_back(PodConfig(StrCat("burst-", i)));
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) threads.emplace_back([&, i] { results[i] = RunPod(configs[i], &ids[i]); });
  for (std::thread& t : threads) t.join();
  std::set<std::string> ips;
  for (int i = 0; i < kPods; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].error_message();
    v1::PodSandboxStatus st = PodStatus(ids[i]);
    EXPECT_EQ(st.state(), v1::SANDBOX_READY);
    ips.insert(st.network().ip());
  }
  EXPECT_EQ(ips.size(), static_cast<size_t>(kPods)) << "every pod has its own address";
  EXPECT_EQ(IpamLeft().size(), static_cast<size_t>(kPods));
  EXPECT_EQ(VethsLeft().size(), static_cast<size_t>(kPods));
  threads.clear();
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] {
      results[i] = StopPod(ids[i]);
      if (results[i].ok()) results[i] = RemovePod(ids[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kPods; ++i) EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error_message();
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
}

// kubelet tearing a pod down while its workers still create and remove the pod's containers: the stop
// wins cleanly. Creations after it are refused (the pod is not ready), nothing runs in the stopped pod,
// and the removal leaves no container or anything else behind.
TEST_F(PodE2eTest, ContainersCreatedAndRemovedWhileThePodIsStopped) {
  v1::PodSandboxConfig pod = PodConfig("busy");
  std::string pod_id = MustRunPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::atomic<bool> stopping{false};
  std::atomic<int> created{0}, refused{0}, other_errors{0};
  std::mutex mu;
  std::vector<std::string> errors;
  auto worker = [&](int w) {
    for (int i = 0; i < 40; ++i) {
      std::string id;
      grpc::Status st =
          CreateContainer(pod_id, pod, ContainerConfig(StrCat("w", w, "-", i), {"sleep", "1000"}), &id);
      if (!st.ok()) {
        if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          ++refused;
        } else {
          ++other_errors;
          std::lock_guard l(mu);
          errors.push_back(st.error_message());
        }
        if (stopping) break;
        continue;
      }
      ++created;
      if (i % 2 == 0) (void)StartContainer(id);
      if (i % 3 == 0) (void)RemoveContainer(id);
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) workers.emplace_back(worker, w);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stopping = true;
  grpc::Status stopped = StopPod(pod_id);
  for (std::thread& t : workers) t.join();
  ASSERT_TRUE(stopped.ok()) << stopped.error_message();
  EXPECT_EQ(other_errors, 0) << Join(errors, "\n");
  EXPECT_GT(created, 0);
  EXPECT_EQ(PodStatus(pod_id).state(), v1::SANDBOX_NOTREADY);
  v1::ContainerFilter running;
  running.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  EXPECT_THAT(ListContainers(running), IsEmpty()) << "a container runs in a stopped pod";
  ASSERT_TRUE(RemovePod(pod_id).ok());
  EXPECT_THAT(ListContainers(), IsEmpty());
  EXPECT_THAT(AllLeft(), IsEmpty()) << Joined(AllLeft());
  std::cout << "[ figures  ] while stopping: " << created << " containers created, " << refused
            << " creations refused (pod not ready)\n";
}

}  // namespace
}  // namespace cricket::e2e
