// The heart of cricketd: pod sandboxes and containers. It ties the pieces together — pinned namespaces
// and CNI (cni/), the image store (lib/storage), the embedded runtime (lib/runtime, driven through one
// cricket-conmon per container), the records (records.h) — and implements the CRI RuntimeService
// semantics (interfaces.md §1): idempotent stop/remove, exits reported by the monitors, state that
// survives a daemon restart. The gRPC adapters (sandbox_rpcs.cc, container_rpcs.cc) only translate.
//
// Every multi-step operation rolls back what it did when a later step fails, so a failed
// RunPodSandbox or CreateContainer leaves no namespace pin, mount, cgroup, process or record behind.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/manager.h"
#include "conmon/exit_watcher.h"
#include "lib/cdi/registry.h"
#include "lib/common/unique_fd.h"
#include "lib/intent/intent_log.h"
#include "lib/oci/hooks_dir.h"
#include "lib/oci/seccomp_profile.h"
#include "lib/runtime/cgroups/layout.h"
#include "lib/runtime/runtime.h"
#include "lib/storage/store.h"
#include "runtime/v1/api.pb.h"
#include "server/config_holder.h"
#include "server/container_events.h"
#include "server/metrics/daemon_metrics.h"
#include "server/records.h"
#include "server/runtime_config.h"
#include "server/usage_stats.h"
#include "server/user_namespace.h"

namespace cricket::server {

// What cricketd learns about the host once, at start.
struct HostFacts {
  std::vector<std::string> capabilities;  // every capability the host can grant (privileged containers)
  oci::SeccompPlatform seccomp_platform;
  std::optional<cgroups::Layout> cgroup_layout;
  bool cgroup_v2 = false;  // pure unified hierarchy
  std::string hostname;
  // Whether pods can have user namespaces (user namespaces, idmapped mounts on the storage's
  // filesystem, overlays on idmapped layers) and mounts be made recursively read-only: OK, or why not.
  absl::Status user_namespaces = absl::UnknownError("not probed");
  absl::Status recursive_read_only = absl::UnknownError("not probed");
};

// Where cricketd's helper programs are.
struct HelperPaths {
  std::string conmon;  // cricket-conmon
  std::string pause;   // cricket-pause
};

// A live cricket-conmon of this daemon, and all of them by the id they monitor (recovery.cc).
struct MonitorProcess;
using MonitorMap = std::map<std::string, std::vector<MonitorProcess>>;

class CriRuntime {
 public:
  // Finds cricket-conmon and cricket-pause: the configured path, else beside cricketd's own executable,
  // else /usr/local/libexec/cricket, /usr/libexec/cricket. NotFound naming the places searched.
  static absl::StatusOr<HelperPaths> FindHelpers(const Config& config);

  // Opens the stores, the CNI manager and the runtimes of every handler, reloads the records, settles
  // what happened while cricketd was down, and starts the exit monitor thread.
  static absl::StatusOr<std::unique_ptr<CriRuntime>> Open(const ConfigHolder& config, HelperPaths helpers);
  ~CriRuntime();

  // ---- sandboxes (sandbox_ops.cc)
  absl::StatusOr<std::string> RunPodSandbox(const ::runtime::v1::PodSandboxConfig& config,
                                            const std::string& runtime_handler);
  absl::Status StopPodSandbox(const std::string& id);
  absl::Status RemovePodSandbox(const std::string& id);
  absl::Status PodSandboxStatus(const std::string& id, bool verbose,
                                ::runtime::v1::PodSandboxStatusResponse* resp);
  absl::Status ListPodSandbox(const ::runtime::v1::PodSandboxFilter& filter,
                              ::runtime::v1::ListPodSandboxResponse* resp);

  // ---- containers (container_ops.cc)
  absl::StatusOr<std::string> CreateContainer(const std::string& sandbox_id,
                                              const ::runtime::v1::ContainerConfig& config);
  absl::Status StartContainer(const std::string& id);
  absl::Status StopContainer(const std::string& id, int64_t timeout_seconds);
  absl::Status RemoveContainer(const std::string& id);
  absl::Status ContainerStatus(const std::string& id, bool verbose,
                               ::runtime::v1::ContainerStatusResponse* resp);
  absl::Status ListContainers(const ::runtime::v1::ContainerFilter& filter,
                              ::runtime::v1::ListContainersResponse* resp);
  absl::Status UpdateContainerResources(const std::string& id,
                                        const ::runtime::v1::LinuxContainerResources& res);
  absl::Status ReopenContainerLog(const std::string& id);

  // ---- stats (stats_ops.cc)
  absl::Status ContainerStats(const std::string& id, ::runtime::v1::ContainerStats* out);
  absl::Status ListContainerStats(const ::runtime::v1::ContainerStatsFilter& filter,
                                  ::runtime::v1::ListContainerStatsResponse* resp);
  absl::Status PodSandboxStats(const std::string& id, ::runtime::v1::PodSandboxStats* out);
  absl::Status ListPodSandboxStats(const ::runtime::v1::PodSandboxStatsFilter& filter,
                                   ::runtime::v1::ListPodSandboxStatsResponse* resp);

  // ---- exec (exec_ops.cc)
  struct ExecProcess {
    sys::PidFd pidfd;  // a child of cricketd: the caller reaps it
    UniqueFd console;  // the pty master with tty
  };
  // Starts `cmd` in the running container as its main process would run (user, env, cwd, capabilities,
  // seccomp, namespaces, cgroup) with the given stdio (an invalid fd means /dev/null); with `tty` the
  // process gets a new terminal instead, whose master is returned.
  absl::StatusOr<ExecProcess> StartExec(const std::string& id, const std::vector<std::string>& cmd, bool tty,
                                        UniqueFd in, UniqueFd out, UniqueFd err);
  struct ExecSyncResult {
    std::string stdout_data;
    std::string stderr_data;
    int exit_code = 0;
  };
  // Runs `cmd` in the container; a timeout (> 0 seconds) kills only the exec'd process and is
  // DeadlineExceeded. Output is capped at 16 MiB per stream.
  absl::StatusOr<ExecSyncResult> ExecSync(const std::string& id, const std::vector<std::string>& cmd,
                                          int64_t timeout_seconds);

  // ---- container events (container_events.cc)
  ContainerEvents& events() { return events_; }
  // The CRI message of a recorded event: the pod's status and its containers' statuses as recorded.
  void EventToCri(const ContainerEvent& e, ::runtime::v1::ContainerEventResponse* out);

  // ---- CRI metrics (cri_metrics.cc)
  absl::Status ListMetricDescriptors(::runtime::v1::ListMetricDescriptorsResponse* resp);
  absl::Status PodSandboxMetrics(const std::string& id, ::runtime::v1::PodSandboxMetrics* out);
  absl::Status ListPodSandboxMetrics(::runtime::v1::ListPodSandboxMetricsResponse* resp);

  // ---- runtime config (runtime_config.cc) and pod-level resources (sandbox_resources.cc)
  // InvalidArgument for a malformed pod CIDR.
  absl::Status UpdateRuntimeConfig(const ::runtime::v1::RuntimeConfig& config);
  std::vector<std::string> PodCidrs() const { return runtime_config_.PodCidrs(); }
  absl::Status UpdatePodSandboxResources(const ::runtime::v1::UpdatePodSandboxResourcesRequest& req);

  // The Prometheus metrics of the daemon (server/metrics/daemon_metrics.h).
  metrics::DaemonMetrics& metrics() { return *metrics_; }
  // A finished RPC (daemon.cc). Once no RPC outside kubelet's steady relisting (lists, statuses, stats,
  // version) has run for kIdleTrimDelay, the janitor drops the code pages those rarer paths faulted in
  // (sys::DropStartupPages, as at start-up and as cricket-conmon does) and returns free heap pages: on
  // an edge node, pod and image operations are rare and their code need not stay resident. The next
  // such operation maps its pages back from the page cache.
  void NoteRpcDone(std::string_view method);

  storage::Store& store() { return *store_; }
  cni::Manager& cni() { return *cni_; }
  const HostFacts& host() const { return host_; }
  StateStore& state() { return state_; }

 private:
  CriRuntime(const ConfigHolder& config, HelperPaths helpers, std::unique_ptr<storage::Store> store,
             HostFacts host);

  // cri_runtime.cc
  absl::Status Recover();
  // recovery.cc: start-up recovery, after Recover() and before serving. Pending intents are completed
  // or rolled back, then what no record owns is swept (see DESIGN.md, "Process model").
  void RecoverOperations();
  absl::Status ResolveIntent(const intent::Record& r, const MonitorMap& monitors, std::string* outcome);
  void SweepOrphans(const MonitorMap& monitors);
  // Removes whatever object `id` (a sandbox or a container) may have left on the host: its monitors,
  // runtime state, cgroups (under `cgroup_parents`), CNI attachment, namespace pins, mounts, rootfs,
  // exit file, sockets and directories, the run directory last. Idempotent. `removed` lists what
  // was found.
  absl::Status PurgeRemains(const std::string& id, const std::vector<std::string>& cgroup_parents,
                            const MonitorMap& monitors, std::vector<std::string>* removed);
  // The end of a failed RunPodSandbox or CreateContainer, after its steps were undone: whatever they
  // could not undo (the disk full, descriptors exhausted) is purged, or else the intent is kept and
  // the janitor retries until it succeeds.
  void FinishRollback(intent::Intent intent, const std::string& id, const std::string& cgroup_parent);
  void JanitorLoop();
  void ExitLoop();
  void ApplyExit(const conmon::ExitRecord& exit);
  absl::StatusOr<runtime::Runtime*> RuntimeFor(const std::string& handler);
  std::string ContainerRunDir(const std::string& id) const;
  std::string SocketBase(const std::string& id) const;
  const cgroups::Layout* HostCgroupLayout() const;
  // The cgroup parent of sandbox `id`, "" when it is unknown or has none.
  std::string SandboxCgroupParent(const std::string& id);
  // Removes the per-container ("pod") monitor cgroup of `id`, if any (monitor_settings.h).
  absl::Status RemoveMonitorCgroup(const std::string& cgroup_parent, const std::string& id) const;

  // sandbox_ops.cc
  absl::Status StopSandboxLocked(Sandbox& sandbox) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sandbox.op_mu);
  absl::Status StartInfra(SandboxRecord& s, const Config& cfg);
  // `info` (the verbose status) when not null.
  void FillSandboxStatus(const SandboxRecord& s, ::runtime::v1::PodSandboxStatus* st,
                         std::map<std::string, std::string>* info);

  // container_events.cc: events feed the metrics (OOM kills) and the metrics read the event counters.
  void ConnectEventsAndMetrics();

  // container_ops.cc
  absl::Status InjectConfiguredHooks(const std::vector<std::string>& dirs, const std::string& id,
                                     oci::Spec* spec);
  absl::Status StopContainerLocked(Container& c, int64_t timeout_seconds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.op_mu);
  absl::Status RemoveContainerLocked(Container& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.op_mu);
  void FillContainerStatus(const ContainerRecord& c, bool verbose, ::runtime::v1::ContainerStatus* st,
                           std::map<std::string, std::string>* info);
  // The user namespace maps of a pod (nullopt: the host's namespace, or no such pod).
  std::optional<UserNamespaceMaps> PodUserns(const std::string& sandbox_id) const;

  const ConfigHolder& config_;
  const HelperPaths helpers_;
  std::unique_ptr<storage::Store> store_;
  const HostFacts host_;
  ContainerEvents events_;  // the observer of state_: declared first, destroyed last
  std::unique_ptr<metrics::DaemonMetrics> metrics_;
  StateStore state_;
  RuntimeConfigStore runtime_config_;
  std::unique_ptr<cni::Manager> cni_;
  std::map<std::string, std::unique_ptr<runtime::Runtime>> runtimes_;  // by handler name
  std::string infra_rootfs_;
  oci::HooksDirCache hooks_;    // [crio.runtime] hooks_dir
  friend class StatsCollector;  // stats_ops.cc
  CpuRateTracker cpu_rates_;    // the previous CPU reading of each container and pod
  // Each container's last statistics, reused by a second call within a second (usage_stats.h).
  struct ContainerReading {
    ::runtime::v1::ContainerStats stats;
    std::optional<cgroups::Stats> cgroup;
  };
  RecentReadings<ContainerReading> container_readings_{1'000'000'000};
  cdi::Registry cdi_;  // the CDI spec directories ([crio.runtime] cdi_spec_dirs)

  std::optional<intent::Log> intents_;  // <root>/intents
  struct Rollback {
    intent::Record record;
    std::string cgroup_parent;
  };
  absl::Mutex janitor_mu_;
  absl::CondVar janitor_cv_;
  bool stopping_ ABSL_GUARDED_BY(janitor_mu_) = false;
  int64_t trim_at_ ABSL_GUARDED_BY(janitor_mu_) = 0;              // monotonic ns; 0: nothing to trim
  std::vector<Rollback> rollbacks_ ABSL_GUARDED_BY(janitor_mu_);  // unfinished, retried by the janitor
  std::thread janitor_thread_;

  std::optional<conmon::ExitWatcher> exits_;
  UniqueFd stop_event_;  // eventfd: ends the exit loop
  std::thread exit_thread_;
};

}  // namespace cricket::server
