// kill -9 of cricketd at random instants inside each multi-step RPC (PullImage, RunPodSandbox,
// CreateContainer, StartContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox, RemoveImage) and
// during its own start-up recovery, each followed by an immediate restart and a clean-up through the CRI
// only, as kubelet would do it. After every round: no restart was refused, everything acknowledged is
// still known (in the state the acknowledgement promised), and the host holds nothing of cricketd's
// beyond what it held before the round (mounts, image volumes, namespace pins with user namespaces,
// cgroups with the monitors' own, processes, IP reservations, veths, records, intents, run-root and
// storage directories).
//
// CRICKET_CRASH_ROUNDS sets the number of rounds (default 16, two kills per operation);
// hack/crash-rounds runs the full count. Needs root; skips otherwise (see pod_fixture.h).
#include <gmock/gmock.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "absl/synchronization/notification.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "test/e2e/pod_fixture.h"

namespace cricket::e2e {
namespace {

using ::testing::IsEmpty;

// The operations a round may kill, in the order one episode performs them.
enum Op { kPull, kRunPod, kCreate, kStart, kRemoveContainer, kStopPod, kRemovePod, kRemoveImage, kOps };
constexpr const char* kOpNames[kOps] = {"PullImage",        "RunPodSandbox",   "CreateContainer",
                                        "StartContainer",   "RemoveContainer", "StopPodSandbox",
                                        "RemovePodSandbox", "RemoveImage"};

int Rounds() {
  const char* env = std::getenv("CRICKET_CRASH_ROUNDS");
  if (env == nullptr) return 16;
  auto n = ParseInt64(env);
  return n && *n > 0 ? static_cast<int>(*n) : 16;
}

std::string Joined(const Leftovers& l) { return Join(l, "\n"); }

// What the client was told. An operation whose call was cut by the kill may or may not have taken
// effect; everything else must be exactly as acknowledged.
struct Acked {
  std::mutex mu;
  std::string pod, a, b;  // ids returned by RunPodSandbox and the two CreateContainer calls
  bool image_pulled = false, a_started = false, b_removed = false, pod_stopped = false, pod_removed = false,
       image_removed = false;
  Op cut = kOps;  // the operation whose call failed (kOps: none)
  std::string cut_error;
};

// The log lines of start-up recovery in cricketd's stderr (what it completed, rolled back or swept).
std::vector<std::string> RecoveryLines(const std::string& stderr_text) {
  std::vector<std::string> out;
  for (std::string_view line : Split(stderr_text, '\n')) {
    if (line.find("component=recovery") != std::string_view::npos) out.emplace_back(line);
  }
  return out;
}

class CrashE2eTest : public PodE2eTest {
 protected:
  std::string image2() const { return registry_host() + "/cricket-test/layers:latest"; }

  // One episode: every operation up to and including `last`, recording what was acknowledged in
  // `acked`; `reached` is notified when `target` begins and `*target_ns` set to how long its call took.
  // Stops at the first failed call (the daemon is gone).
  //
  // Odd rounds run the pod in a user namespace (its pin among the pod's others, idmapped layers); rounds
  // 2 and 3 of every four give it no pod-level pid namespace, as kubelet does by default, so it runs no
  // infra process (drop_infra_ctr); the second container always has an image volume (busybox, mounted
  // from the store); every monitor has a cgroup of its own in the pod's parent (conmon_cgroup = "pod",
  // set by the test).
  void Episode(Op target, Op last, Acked& acked, absl::Notification& reached, int64_t* target_ns, int round) {
    v1::PodSandboxConfig pod = PodConfig(StrCat("crash-", round));
    std::optional<v1::NamespaceOption> namespaces;  // the pod's and its containers' namespace options
    if (round % 2 == 1) {
      v1::NamespaceOption ns;
      ns.mutable_userns_options()->set_mode(v1::POD);
      for (auto* ids :
           {ns.mutable_userns_options()->mutable_uids(), ns.mutable_userns_options()->mutable_gids()}) {
        v1::IDMapping* m = ids->Add();
        m->set_host_id(400000 + static_cast<uint32_t>(slot()) * 65536);
        m->set_container_id(0);
        m->set_length(65536);
      }
      namespaces = ns;
    }
    if (round % 4 >= 2) {
      if (!namespaces) namespaces = v1::NamespaceOption();
      namespaces->set_pid(v1::CONTAINER);
    }
    if (namespaces)
      *pod.mutable_linux()->mutable_security_context()->mutable_namespace_options() = *namespaces;
    auto container = [&](const std::string& name) {
      v1::ContainerConfig c = ContainerConfig(name, {"sleep", "1000"});
      if (namespaces)
        *c.mutable_linux()->mutable_security_context()->mutable_namespace_options() = *namespaces;
      return c;
    };
    auto step = [&](Op op, const std::function<grpc::Status()>& call, const std::function<void()>& ack) {
      if (op == target && !reached.HasBeenNotified()) reached.Notify();
      int64_t t0 = MonotonicNow();
      grpc::Status st = call();
      if (target_ns != nullptr && op == target) *target_ns = MonotonicNow() - t0;
      std::lock_guard l(acked.mu);
      if (!st.ok()) {
        acked.cut = op;
        acked.cut_error = st.error_message();
        return false;
      }
      ack();
      return op != last;
    };
    std::string id;
    if (!step(
            kPull, [&] { return PullImage(image2()); }, [&] { acked.image_pulled = true; }))
      return;
    if (!step(
            kRunPod, [&] { return RunPod(pod, &id); }, [&] { acked.pod = id; }))
      return;
    std::string pod_id = id;
    if (!step(
            kCreate, [&] { return CreateContainer(pod_id, pod, container("a"), &id); },
            [&] { acked.a = id; })) {
      return;
    }
    std::string a = id;
    if (!step(
            kStart, [&] { return StartContainer(a); }, [&] { acked.a_started = true; }))
      return;
    v1::ContainerConfig bc = container("b");
    bc.mutable_image()->set_image(image2());
    v1::Mount* volume = bc.add_mounts();
    volume->set_container_path("/iv");
    volume->mutable_image()->set_image(busybox_id());
    // A second creation, killed as often as the first when CreateContainer is the target.
    if (!step(
            kCreate, [&] { return CreateContainer(pod_id, pod, bc, &id); }, [&] { acked.b = id; }))
      return;
    std::string b = id;
    if (!step(
            kRemoveContainer, [&] { return RemoveContainer(b); }, [&] { acked.b_removed = true; }))
      return;
    if (!step(
            kStopPod, [&] { return StopPod(pod_id); }, [&] { acked.pod_stopped = true; }))
      return;
    if (!step(
            kRemovePod, [&] { return RemovePod(pod_id); }, [&] { acked.pod_removed = true; }))
      return;
    (void)step(
        kRemoveImage, [&] { return RemoveImage(image2()); }, [&] { acked.image_removed = true; });
  }

  // Everything acknowledged is still known, in the state the acknowledgement promised.
  void CheckAcknowledged(Acked& acked, const std::string& where) {
    std::map<std::string, v1::PodSandbox> pods;
    for (const v1::PodSandbox& p : ListPods()) pods[p.id()] = p;
    std::map<std::string, v1::Container> containers;
    for (const v1::Container& c : ListContainers()) containers[c.id()] = c;
    std::lock_guard l(acked.mu);
    const bool pod_removal_cut = acked.cut == kRemovePod;
    if (!acked.pod.empty()) {
      if (acked.pod_removed) {
        EXPECT_FALSE(pods.contains(acked.pod))
            << where << ": removed pod " << acked.pod << " is listed again";
      } else if (!pod_removal_cut) {
        ASSERT_TRUE(pods.contains(acked.pod)) << where << ": acknowledged pod " << acked.pod << " is lost";
        if (acked.pod_stopped) {
          EXPECT_EQ(pods[acked.pod].state(), v1::SANDBOX_NOTREADY) << where << ": stopped pod " << acked.pod;
        } else if (acked.cut != kStopPod) {
          EXPECT_EQ(pods[acked.pod].state(), v1::SANDBOX_READY) << where << ": pod " << acked.pod;
        }
      }
    }
    if (!acked.a.empty()) {
      if (acked.pod_removed) {
        EXPECT_FALSE(containers.contains(acked.a))
            << where << ": container " << acked.a << " of a removed pod";
      } else if (!pod_removal_cut) {
        ASSERT_TRUE(containers.contains(acked.a))
            << where << ": acknowledged container " << acked.a << " is lost";
        if (acked.a_started) {
          EXPECT_NE(containers[acked.a].state(), v1::CONTAINER_CREATED) << where << ": started container";
        } else if (acked.cut != kStart) {
          EXPECT_EQ(containers[acked.a].state(), v1::CONTAINER_CREATED) << where << ": never started";
        }
      }
    }
    if (!acked.b.empty()) {
      if (acked.b_removed) {
        EXPECT_FALSE(containers.contains(acked.b))
            << where << ": removed container " << acked.b << " is back";
      } else if (acked.cut != kRemoveContainer) {
        ASSERT_TRUE(containers.contains(acked.b))
            << where << ": acknowledged container " << acked.b << " is lost";
      }
    }
    bool image_listed = false;
    for (const v1::Image& img : ListImages()) {
      for (const std::string& tag : img.repo_tags()) image_listed = image_listed || tag == image2();
    }
    if (acked.image_removed) {
      EXPECT_FALSE(image_listed) << where << ": removed image " << image2() << " is back";
    } else if (acked.image_pulled && acked.cut != kRemoveImage) {
      EXPECT_TRUE(image_listed) << where << ": acknowledged pull of " << image2() << " is lost";
    }
  }

  // What kubelet does with what it finds: stop and remove every pod, remove every container, and (image
  // GC) remove every image but the test's busybox.
  void CleanUpThroughCri(const std::string& where) {
    for (const v1::PodSandbox& p : ListPods()) {
      grpc::Status st = StopPod(p.id());
      EXPECT_TRUE(st.ok()) << where << ": StopPodSandbox " << p.id() << ": " << st.error_message();
      st = RemovePod(p.id());
      EXPECT_TRUE(st.ok()) << where << ": RemovePodSandbox " << p.id() << ": " << st.error_message();
    }
    for (const v1::Container& c : ListContainers()) {
      grpc::Status st = RemoveContainer(c.id());
      EXPECT_TRUE(st.ok()) << where << ": RemoveContainer " << c.id() << ": " << st.error_message();
    }
    for (const v1::Image& img : ListImages()) {
      if (img.id() == busybox_id()) continue;
      grpc::Status st = RemoveImage(img.id());
      EXPECT_TRUE(st.ok()) << where << ": RemoveImage " << img.id() << ": " << st.error_message();
    }
  }

  // The layer directories of the image store (compared with what busybox alone needs).
  std::set<std::string> StoredLayers() {
    auto names = ListDir(daemon().root() + "/storage/overlay").value_or(std::vector<std::string>{});
    return {names.begin(), names.end()};
  }

  // Restarts at once; a refused start (a lock still held) is counted and retried until it works.
  void Restart(int* refused, std::vector<std::string>* refusals, int64_t* start_ns) {
    int64_t t0 = MonotonicNow();
    absl::Status st = TryStartDaemon();
    if (start_ns != nullptr) *start_ns = MonotonicNow() - t0;
    if (st.ok()) return;
    ++*refused;
    refusals->push_back(std::string(st.message()));
    for (int i = 0; i < 100 && !st.ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      st = TryStartDaemon();
    }
    ASSERT_TRUE(st.ok()) << "cricketd does not start at all: " << st;
  }
};

TEST_F(CrashE2eTest, KillNineAtRandomInstantsLeavesNothingAndLosesNothing) {
  const int rounds = Rounds();
  std::mt19937_64 rng(std::random_device{}());
  ASSERT_TRUE(daemon().Stop(SIGTERM).ok());
  set_extra_daemon_config("\n[crio.runtime]\nconmon_cgroup = \"pod\"\n");
  StartDaemon();
  const std::set<std::string> baseline_layers = StoredLayers();
  ASSERT_FALSE(baseline_layers.empty());

  // Calibration: one unkilled episode gives each operation's duration, the window its kills fall in.
  int64_t duration_ns[kOps] = {};
  for (int op = 0; op < kOps; ++op) {
    Acked acked;
    absl::Notification reached;
    Episode(static_cast<Op>(op), kRemoveImage, acked, reached, &duration_ns[op], 1000 + op);
    ASSERT_EQ(acked.cut, kOps) << "calibration: " << kOpNames[acked.cut] << ": " << acked.cut_error;
    CleanUpThroughCri("calibration");
    duration_ns[op] = std::max<int64_t>(duration_ns[op], 2'000'000);
  }
  ASSERT_THAT(AllLeft(), IsEmpty()) << "calibration: " << Joined(AllLeft());
  ASSERT_EQ(StoredLayers(), baseline_layers);
  std::string durations;
  for (int op = 0; op < kOps; ++op)
    StrAppend(&durations, " ", kOpNames[op], "=", duration_ns[op] / 1000000, "ms");
  std::cout << "[ figures  ] operation durations:" << durations << "\n";

  int refused = 0, kills = 0, startup_kills = 0, recovery_lines = 0;
  int killed_in[kOps + 1] = {};  // by the call cut; [kOps]: the episode had ended
  std::vector<std::string> refusals;
  int64_t last_start_ns = 500'000'000;
  for (int round = 0; round < rounds; ++round) {
    Op target = static_cast<Op>(round % kOps);
    // Anywhere in the operation, and a little past its end (the reply in flight, the next call).
    int64_t delay_ns = std::uniform_int_distribution<int64_t>(0, duration_ns[target] * 5 / 4)(rng);
    Acked acked;
    absl::Notification reached;
    std::thread client([&] { Episode(target, kRemoveImage, acked, reached, nullptr, round); });
    reached.WaitForNotificationWithTimeout(absl::Seconds(120));
    std::this_thread::sleep_for(std::chrono::nanoseconds(delay_ns));
    KillDaemon();
    ++kills;
    client.join();
    ++killed_in[acked.cut];
    std::string where = StrCat(
        "round ", round, " (kill ", delay_ns / 1000, " us into ", kOpNames[target],
        ", the call it cut: ", acked.cut == kOps ? "none, the episode had ended" : kOpNames[acked.cut], ")");
    std::string log;
    // Every fourth round also kills the restarted daemon at a random instant of its start-up (recovery
    // of the first crash included), then starts it again.
    if (round % 4 == 3) {
      int64_t d = std::uniform_int_distribution<int64_t>(0, last_start_ns)(rng);
      absl::Status spawned = daemon().Spawn();
      ASSERT_TRUE(spawned.ok()) << spawned;
      std::this_thread::sleep_for(std::chrono::nanoseconds(d));
      log = daemon().Stderr();
      KillDaemon();
      ++startup_kills;
      ++kills;
      where += StrCat(", then a kill ", d / 1000, " us into the restart");
    }
    Restart(&refused, &refusals, &last_start_ns);
    if (HasFatalFailure()) return;
    log += daemon().Stderr();
    std::vector<std::string> recovered = RecoveryLines(log);
    recovery_lines += static_cast<int>(recovered.size());
    CheckAcknowledged(acked, where);
    CleanUpThroughCri(where);
    Leftovers left = AllLeft();
    ASSERT_THAT(left, IsEmpty()) << where << "\n"
                                 << Joined(left) << "\nstart-up recovery:\n"
                                 << Join(recovered, "\n");
    ASSERT_EQ(StoredLayers(), baseline_layers) << where;
    if (HasFailure()) {
      std::cout << where << " start-up recovery:\n" << Join(recovered, "\n") << "\n";
      return;
    }
  }
  std::string per_op;
  for (int op = 0; op < kOps; ++op) StrAppend(&per_op, " ", kOpNames[op], "=", killed_in[op]);
  StrAppend(&per_op, " none=", killed_in[kOps]);
  std::cout << "[ figures  ] " << kills << " kills (" << startup_kills
            << " during start-up recovery); calls cut:" << per_op << "; refused restarts: " << refused
            << "; recovery log lines: " << recovery_lines << "\n";
  EXPECT_EQ(refused, 0) << Join(refusals, "\n");
}

}  // namespace
}  // namespace cricket::e2e
