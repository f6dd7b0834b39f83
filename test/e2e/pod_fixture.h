// The fixture of the pod and container e2e tests: a real cricketd (TestDaemon) with images pulled from a
// real local registry (Debian's docker-registry, filled once per test process by hack/test-images), a
// CNI network of the test's own (Debian's bridge, host-local and portmap plugins behind a wrapper that
// logs every plugin call), pods under a cgroup parent of the test's own, and helpers that look at the
// host for what cricketd left behind (mounts, namespace pins, cgroups, processes, IP reservations,
// veths, records).
//
// Concurrent test processes (another checkout's run, ctest -j) do not collide: each process takes a
// free "slot" (an flock'ed file) that names its bridge (crkpod<N>), subnet (10.<150+N>.0.0/16), CNI
// network name and cgroup parent (/pode2e-<N>).
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/common/unique_fd.h"
#include "runtime/v1/api.grpc.pb.h"
#include "test/e2e/test_daemon.h"
#include "test/support/registry.h"

namespace cricket::e2e {

namespace v1 = ::runtime::v1;

// The reference the tests give CreateContainer (a mirror in registries.conf sends it to the registry).
inline constexpr char kBusybox[] = "docker.io/library/busybox:latest";

struct ExecOutput {
  grpc::Status status;
  int exit_code = -1;
  std::string out;
  std::string err;
};

// One thing cricketd should have cleaned up but did not, described for the failure message.
using Leftovers = std::vector<std::string>;

class PodE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  // ---- the daemon
  void StartDaemon();             // (again) with the test's config; fails the test when it does not answer
  absl::Status TryStartDaemon();  // the same, returning why it did not start instead of failing
  void KillDaemon();              // SIGKILL, as a crash would
  // TOML appended to the daemon's drop-in at its next StartDaemon().
  void set_extra_daemon_config(std::string toml) { extra_daemon_config_ = std::move(toml); }
  TestDaemon& daemon() { return daemon_; }
  v1::RuntimeService::Stub& rt() { return *rt_; }

  // ---- configs
  // A pod config with metadata (namespace "pode2e", a random uid), hostname = name, a log directory,
  // the test's cgroup parent and the label suite=pode2e.
  v1::PodSandboxConfig PodConfig(const std::string& name) const;
  // busybox running `cmd`, logging to <log_directory>/<name>.log.
  v1::ContainerConfig ContainerConfig(const std::string& name, const std::vector<std::string>& cmd) const;

 public:
  // `sh -c script` in busybox (usable by helpers outside the fixture).
  static v1::ContainerConfig ShellContainer(const std::string& name, const std::string& script);

 protected:
  // ---- RPCs (each with a deadline)
  grpc::Status RunPod(const v1::PodSandboxConfig& config, std::string* id);
  std::string MustRunPod(const v1::PodSandboxConfig& config);  // ADD_FAILURE and "" on error
  grpc::Status CreateContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                               const v1::ContainerConfig& config, std::string* id);
  grpc::Status StartContainer(const std::string& id);
  // Create + start; ADD_FAILURE and "" on error.
  std::string MustRunContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                               const v1::ContainerConfig& config);
  grpc::Status StopContainer(const std::string& id, int64_t timeout_s = 0);
  grpc::Status RemoveContainer(const std::string& id);
  grpc::Status StopPod(const std::string& id);
  grpc::Status RemovePod(const std::string& id);
  grpc::Status GetContainerStatus(const std::string& id, v1::ContainerStatusResponse* resp,
                                  bool verbose = false);
  v1::ContainerStatus ContainerStatus(const std::string& id);  // ADD_FAILURE on error
  grpc::Status GetPodStatus(const std::string& id, v1::PodSandboxStatusResponse* resp, bool verbose = false);
  v1::PodSandboxStatus PodStatus(const std::string& id);
  std::vector<v1::Container> ListContainers(const v1::ContainerFilter& filter = {});
  std::vector<v1::PodSandbox> ListPods(const v1::PodSandboxFilter& filter = {});
  ExecOutput Exec(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout_s = 0);
  std::string MustExec(const std::string& id, const std::string& script);  // sh -c; stdout; exit 0
  grpc::Status PullImage(const std::string& ref, std::string* image_ref = nullptr);
  grpc::Status RemoveImage(const std::string& ref);
  std::vector<v1::Image> ListImages();

  // Polls ContainerStatus until the state is `state` (timeout_ms); the last status in *last.
  bool WaitForState(const std::string& id, v1::ContainerState state, int timeout_ms,
                    v1::ContainerStatus* last = nullptr);
  // The host pid of a container's init, from the verbose status.
  int ContainerPid(const std::string& id);
  // Its cgroup directory for v1 controller `controller` (from /proc/<pid>/cgroup).
  std::string ContainerCgroupDir(const std::string& id, const std::string& controller);

  // ---- the test's network and cgroup parent
  int slot() const { return slot_; }
  std::string bridge() const;         // crkpod<N>
  std::string network_name() const;   // cricket-pod-e2e-<N>
  std::string subnet_prefix() const;  // "10.<150+N>."
  std::string cgroup_parent() const;  // /pode2e-<N>
  std::string ipam_dir() const;       // host-local's dataDir for the network
  std::string cni_log() const;        // one line per plugin call: "<COMMAND> <bridge|...> <CONTAINERID>"
  // How many times the bridge plugin ran `command` for a sandbox.
  int CniCalls(const std::string& command, const std::string& sandbox_id) const;
  static const std::string& busybox_id();  // the image id (config digest) hack/test-images reported
  static std::string registry_host();      // the local registry ("127.0.0.1:PORT"), for cricket-test/*

  // ---- what the host still holds
  // Mounts under the daemon's directory (except the namespaces dir's own propagation mount).
  Leftovers MountsLeft() const;
  Leftovers PinsLeft() const;       // files under <runroot>/ns/*/
  Leftovers CgroupsLeft() const;    // cgroup dirs under the test's parent in every hierarchy
  Leftovers ProcessesLeft() const;  // processes in the parent's cgroups, or naming the daemon's dir
  Leftovers IpamLeft() const;       // host-local reservations
  Leftovers VethsLeft() const;      // interfaces enslaved to the test bridge
  Leftovers RecordsLeft() const;    // records, intents, bundles, exit files, sockets, rootfs dirs, CNI cache
  Leftovers AllLeft() const;

  // Runs argv[0] (absolute) with argv; its stdout+stderr in *output. Returns the exit code.
  static int RunTool(const std::vector<std::string>& argv, std::string* output = nullptr);

 private:
  void WriteNetwork();
  void CleanUpHost();  // last-resort cleanup after a failed test: never needed when cricketd works

  TestDaemon daemon_;
  std::string extra_daemon_config_;
  std::unique_ptr<v1::RuntimeService::Stub> rt_;
  std::unique_ptr<v1::ImageService::Stub> images_;
  UniqueFd slot_lock_;  // flock'ed slot file
  int slot_ = -1;
  bool skipped_ = false;
};

// Reads a whole HTTP/1.0 response from host:port ("" when nothing answered within timeout_ms).
std::string HttpGet(const std::string& host, int port, const std::string& path, int timeout_ms = 5000);
// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeTcpPort();

}  // namespace cricket::e2e
