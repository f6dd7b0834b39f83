// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox.
#include <signal.h>
#include <sys/mount.h>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "conmon/client.h"
#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/oci/default_spec.h"
#include "lib/runtime/pod_namespaces.h"
#include "lib/sys/namespace_pin.h"
#include "lib/sys/pidfd.h"
#include "server/container_spec.h"
#include "server/cri_runtime.h"
#include "server/intent_kinds.h"
#include "server/monitor_settings.h"
#include "server/pod_files.h"
#include "server/sandbox_resources.h"
#include "server/step_timer.h"
#include "server/user_namespace.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

// The pod's /dev/shm (CRI-O and containerd default size).
constexpr char kShmOptions[] = "mode=1777,size=65536k";

bool HostNetwork(const v1::PodSandboxConfig& c) {
  return c.linux().security_context().namespace_options().network() == v1::NODE;
}
bool HostIpc(const v1::PodSandboxConfig& c) {
  return c.linux().security_context().namespace_options().ipc() == v1::NODE;
}
bool HostPid(const v1::PodSandboxConfig& c) {
  return c.linux().security_context().namespace_options().pid() == v1::NODE;
}
// Only a pod-level pid namespace needs a process (its pid 1) to exist: the others are pinned.
bool PodPidNamespace(const v1::PodSandboxConfig& c) {
  return c.linux().security_context().namespace_options().pid() == v1::POD;
}

absl::Status ValidateSandboxConfig(const v1::PodSandboxConfig& c) {
  if (!c.has_metadata()) return absl::InvalidArgumentError("pod sandbox config: metadata is required");
  const v1::PodSandboxMetadata& m = c.metadata();
  if (m.name().empty()) return absl::InvalidArgumentError("pod sandbox config: metadata.name is required");
  if (m.namespace_().empty()) {
    return absl::InvalidArgumentError("pod sandbox config: metadata.namespace is required");
  }
  if (m.uid().empty()) return absl::InvalidArgumentError("pod sandbox config: metadata.uid is required");
  if (!c.hostname().empty()) RETURN_IF_ERROR(ValidateHostname(c.hostname()));
  RETURN_IF_ERROR(PodUserNamespace(c.linux().security_context().namespace_options()).status());
  for (const v1::PortMapping& p : c.port_mappings()) {
    if (p.container_port() <= 0 || p.container_port() > 65535 || p.host_port() < 0 || p.host_port() > 65535) {
      return absl::InvalidArgumentError(
          StrCat("port mapping ", p.host_port(), ":", p.container_port(), " is out of range"));
    }
  }
  return absl::OkStatus();
}

// Namespaced sysctls only (runtime::SysctlNamespace: the IPC or the network namespace), each in a
// namespace the pod owns.
absl::Status ValidateSysctls(const std::map<std::string, std::string>& sysctls, bool host_ipc,
                             bool host_net) {
  for (const auto& [name, value] : sysctls) {
    ASSIGN_OR_RETURN(std::string ns, runtime::SysctlNamespace(name));
    bool ipc = ns == "ipc";
    bool net = ns == "net";
    if (ipc && host_ipc) {
      return absl::InvalidArgumentError(
          StrCat("sysctl \"", name, "\" cannot be set with the host IPC namespace"));
    }
    if (net && host_net) {
      return absl::InvalidArgumentError(StrCat("sysctl \"", name, "\" cannot be set with the host network"));
    }
  }
  return absl::OkStatus();
}

// The pod's sysctls for its pinned namespaces when it has no infra container: the configured defaults that
// fit the pod (those for a namespace it shares with the host are skipped, as CRI-O does, with a warning),
// then the pod's own (validated above), which win.
std::map<std::string, std::string> PodSysctls(const Config& cfg, const v1::PodSandboxConfig& c, bool host_ipc,
                                              bool host_net) {
  std::map<std::string, std::string> out;
  for (const std::string& kv : cfg.runtime.default_sysctls) {
    auto split = SplitOnce(kv, '=');
    if (!split) continue;
    std::map<std::string, std::string> one = {{std::string(split->first), std::string(split->second)}};
    if (absl::Status st = ValidateSysctls(one, host_ipc, host_net); !st.ok()) {
      log::Warn("pod", "default sysctl skipped for this pod", {{"sysctl", kv}, {"error", st}});
      continue;
    }
    out.insert(one.begin(), one.end());
  }
  for (const auto& [k, v] : c.linux().sysctls()) out[k] = v;
  return out;
}

std::string SandboxName(const v1::PodSandboxMetadata& m) {
  return StrCat(m.name(), "_", m.namespace_(), "_", m.uid(), "_", m.attempt());
}

absl::StatusOr<oci::Spec> BuildInfraSpec(const SandboxRecord& s, const Config& cfg, const HostFacts& host,
                                         const std::string& rootfs) {
  const v1::PodSandboxConfig& c = s.config;
  oci::DefaultSpecOptions opts;
  opts.host_capabilities = host.capabilities;
  opts.cgroup_namespace = host.cgroup_v2;
  ASSIGN_OR_RETURN(oci::Spec spec, oci::DefaultSpec(opts));
  spec.root = oci::Root{rootfs, true};
  oci::Process& p = *spec.process;
  p.args = {"/pause"};
  p.no_new_privileges = true;
  p.oom_score_adj = -998;
  oci::Linux& l = *spec.linux;
  std::vector<oci::Namespace> ns;
  if (!s.userns_path.empty()) ns.push_back({oci::NamespaceType::kUser, s.userns_path});
  if (!HostPid(c)) ns.push_back({oci::NamespaceType::kPid, ""});
  if (!s.netns_path.empty()) ns.push_back({oci::NamespaceType::kNetwork, s.netns_path});
  if (!s.ipcns_path.empty()) ns.push_back({oci::NamespaceType::kIpc, s.ipcns_path});
  if (!s.utsns_path.empty()) {
    ns.push_back({oci::NamespaceType::kUts, s.utsns_path});
    spec.hostname = c.hostname();
  }
  ns.push_back({oci::NamespaceType::kMount, ""});
  if (host.cgroup_v2) ns.push_back({oci::NamespaceType::kCgroup, ""});
  l.namespaces = std::move(ns);
  for (const auto& [k, v] : PodSysctls(cfg, c, HostIpc(c), HostNetwork(c))) l.sysctl[k] = v;
  l.cgroups_path = CgroupsPath(cfg.runtime.cgroup_manager, s.cgroup_parent, s.id);
  spec.annotations["io.kubernetes.cri.container-type"] = "sandbox";
  spec.annotations["io.kubernetes.cri.sandbox-id"] = s.id;
  spec.annotations["io.kubernetes.cri.sandbox-name"] = c.metadata().name();
  spec.annotations["io.kubernetes.cri.sandbox-namespace"] = c.metadata().namespace_();
  RETURN_IF_ERROR(oci::ValidateSpec(spec));
  return spec;
}

cni::PodNetwork PodNetworkOf(const SandboxRecord& s) {
  cni::PodNetwork net;
  net.sandbox_id = s.id;
  net.pod_name = s.config.metadata().name();
  net.pod_namespace = s.config.metadata().namespace_();
  net.pod_uid = s.config.metadata().uid();
  net.netns_path = s.netns_path;
  for (const v1::PortMapping& p : s.config.port_mappings()) {
    if (p.host_port() <= 0) continue;
    std::string proto = p.protocol() == v1::UDP ? "udp" : (p.protocol() == v1::SCTP ? "sctp" : "tcp");
    net.port_mappings.push_back({p.host_port(), p.container_port(), proto, p.host_ip()});
  }
  net.cgroup_parent = s.cgroup_parent;
  return net;
}

// Waits for a process (not a child) to be gone; false when it outlived `timeout_ms`.
bool WaitGone(int pid, uint64_t start_time, int timeout_ms) {
  auto fd = sys::PidFd::OpenIdentity({pid, start_time});
  if (!fd.ok()) return true;
  auto exited = fd->WaitExited(timeout_ms);
  return exited.ok() && *exited;
}

// The pod's namespaces, pinned: network and UTS unless it uses the host's network, IPC unless the
// host's IPC, and its user namespace when it has one. That one is made together with the others,
// which it then owns (the pod's root has their capabilities, e.g. to mount sysfs for its network).
absl::StatusOr<std::vector<sys::PinnedNamespace>> PinPodNamespaces(
    const std::string& dir, const std::string& id, bool host_net, bool host_ipc,
    const std::optional<UserNamespaceMaps>& userns) {
  std::vector<sys::NamespaceType> types;
  sys::PinOptions options;
  if (userns) {
    types.push_back(sys::NamespaceType::kUser);
    options.uid_map = userns->uid_map;
    options.gid_map = userns->gid_map;
  }
  if (!host_net) types.push_back(sys::NamespaceType::kNet);
  if (!host_ipc) types.push_back(sys::NamespaceType::kIpc);
  if (!host_net) types.push_back(sys::NamespaceType::kUts);
  if (types.empty()) return std::vector<sys::PinnedNamespace>();
  return sys::PinNamespaces(dir, id, types, options);
}

// The mount options of the pod's /dev/shm: in a user namespace it belongs to the pod's root.
std::string ShmOptions(const std::optional<UserNamespaceMaps>& userns) {
  std::string options = kShmOptions;
  if (userns)
    StrAppend(&options, ",uid=", *HostIdOf(userns->uid_map, 0), ",gid=", *HostIdOf(userns->gid_map, 0));
  return options;
}

}  // namespace

absl::Status CriRuntime::StartInfra(SandboxRecord& s, const Config& cfg) {
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(s.runtime_handler));
  ASSIGN_OR_RETURN(oci::Spec spec, BuildInfraSpec(s, cfg, host_, infra_rootfs_));
  std::string bundle = ContainerRunDir(s.id);
  RETURN_IF_ERROR(MkdirAll(bundle, 0700));
  RETURN_IF_ERROR(WriteFileReplacing(JoinPath(bundle, "config.json"), oci::SerializeSpec(spec), 0600));
  conmon::MonitorOptions mo;
  RETURN_IF_ERROR(ApplyMonitorSettings(cfg, s.runtime_handler, HostCgroupLayout(), s.cgroup_parent, s.id,
                                       helpers_.conmon, &mo));
  absl::Cleanup remove_monitor_cgroup = [&] { (void)RemoveMonitorCgroup(s.cgroup_parent, s.id); };
  mo.config.id = s.id;
  mo.config.runtime_root = rt->options().root;
  mo.config.systemd_cgroup = rt->options().systemd_cgroup;
  mo.config.bundle = bundle;
  mo.config.no_pivot = cfg.runtime.no_pivot;
  mo.config.log_path = JoinPath(s.run_dir, "infra.log");
  mo.config.exits_dir = cfg.ExitsDir();
  mo.config.attach_socket = SocketBase(s.id) + ".attach";
  mo.config.control_socket = SocketBase(s.id) + ".ctl";
  mo.config.log_level = cfg.runtime.log_level;
  mo.diagnostics_log = JoinPath(bundle, "conmon.log");
  auto monitor = conmon::SpawnMonitor(mo);
  if (!monitor.ok()) {
    (void)rt->Delete(s.id, /*force=*/true);
    return Annotate(monitor.status(), "create the infra container");
  }
  s.infra_pid = monitor->container.pid;
  s.infra_start_time = monitor->container.start_time;
  s.monitor_pid = monitor->monitor.pid;
  s.monitor_start_time = monitor->monitor.start_time;
  if (absl::Status st = rt->Start(s.id); !st.ok()) {
    (void)rt->Delete(s.id, /*force=*/true);
    return Annotate(st, "start the infra container");
  }
  std::move(remove_monitor_cgroup).Cancel();
  return absl::OkStatus();
}

absl::StatusOr<std::string> CriRuntime::RunPodSandbox(const v1::PodSandboxConfig& config,
                                                      const std::string& handler) {
  auto cfg = config_.Get();
  StepTimer steps;
  RETURN_IF_ERROR(ValidateSandboxConfig(config));
  bool host_net = HostNetwork(config);
  bool host_ipc = HostIpc(config);
  std::map<std::string, std::string> sysctls(config.linux().sysctls().begin(),
                                             config.linux().sysctls().end());
  RETURN_IF_ERROR(ValidateSysctls(sysctls, host_ipc, host_net));
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(handler));
  (void)rt;
  ASSIGN_OR_RETURN(std::optional<UserNamespaceMaps> userns,
                   PodUserNamespace(config.linux().security_context().namespace_options()));
  if (userns && !host_.user_namespaces.ok()) {
    return absl::FailedPreconditionError(
        StrCat("user namespaces are not available on this host: ", host_.user_namespaces.message()));
  }

  auto sandbox = std::make_shared<Sandbox>();
  absl::MutexLock op(&sandbox->op_mu);
  SandboxRecord s;  // published into `sandbox` once the pod is up
  s.id = RandomHexId();
  s.name = SandboxName(config.metadata());
  s.runtime_handler = handler;
  s.config = config;
  s.created_at = RealtimeNow();
  s.cgroup_parent = config.linux().cgroup_parent();
  s.run_dir = JoinPath(cfg->root.runroot, "pods/" + s.id);
  RETURN_IF_ERROR(state_.AddSandbox(sandbox, s.id, s.name));
  // Each step below is undone, in reverse order, unless the whole sandbox comes up; a crash is undone
  // by the next start from the intent (recovery.cc).
  absl::Cleanup unreserve = [&] { state_.RemoveSandbox(s.id); };
  ASSIGN_OR_RETURN(intent::Intent intent,
                   intents_->Begin(kIntentRunPodSandbox, s.id, {{"record", SandboxToJson(s)}}));
  // After every step's own undo: makes sure nothing is left, or hands the rest to the janitor.
  absl::Cleanup finish_rollback = [&] { FinishRollback(std::move(intent), s.id, s.cgroup_parent); };
  RETURN_IF_ERROR(MkdirAll(s.run_dir, 0700));
  absl::Cleanup remove_run_dir = [&] { (void)RemoveAll(s.run_dir); };

  steps.Mark("validate");
  ASSIGN_OR_RETURN(std::vector<sys::PinnedNamespace> pins,
                   PinPodNamespaces(cfg->NamespacesDir(), s.id, host_net, host_ipc, userns));
  steps.Mark("pin");
  absl::Cleanup unpin = [&] {
    for (const auto& p : pins) (void)sys::UnpinNamespace(p.path);
  };
  for (const auto& p : pins) {
    if (p.type == sys::NamespaceType::kNet) s.netns_path = p.path;
    if (p.type == sys::NamespaceType::kIpc) s.ipcns_path = p.path;
    if (p.type == sys::NamespaceType::kUts) s.utsns_path = p.path;
    if (p.type == sys::NamespaceType::kUser) s.userns_path = p.path;
  }

  // Files shared by the pod's containers.
  std::string hostname = config.hostname().empty() || host_net ? host_.hostname : config.hostname();
  if (!config.hostname().empty() && !host_net) hostname = config.hostname();
  s.hostname_path = JoinPath(s.run_dir, "hostname");
  s.hosts_path = JoinPath(s.run_dir, "hosts");
  s.resolv_conf_path = JoinPath(s.run_dir, "resolv.conf");
  // The pod's files live under runroot (see WriteFileReplacing): replaced atomically, not fsynced.
  RETURN_IF_ERROR(WriteFileReplacing(s.hostname_path, hostname + "\n", 0644));
  std::string host_resolv = ReadFile("/etc/resolv.conf").value_or("");
  ASSIGN_OR_RETURN(std::string resolv, ResolvConf(config.dns_config(), host_resolv));
  RETURN_IF_ERROR(WriteFileReplacing(s.resolv_conf_path, resolv, 0644));
  // The pod's /etc/hosts names its IPs: written once they are known (below), at once without a network.
  if (host_net) RETURN_IF_ERROR(WriteFileReplacing(s.hosts_path, HostsFile(hostname, {}), 0644));
  if (!host_ipc) {
    s.shm_path = JoinPath(s.run_dir, "shm");
    RETURN_IF_ERROR(MkdirAll(s.shm_path, 0755));
    if (::mount("shm", s.shm_path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                ShmOptions(userns).c_str()) != 0) {
      return ErrnoError("mount the pod's /dev/shm on", s.shm_path);
    }
  }
  absl::Cleanup unmount_shm = [&] {
    if (!s.shm_path.empty()) ::umount2(s.shm_path.c_str(), MNT_DETACH);
  };
  steps.Mark("files");

  if (!host_net) {
    cni::PodNetwork pod_network = PodNetworkOf(s);
    pod_network.ip_ranges = runtime_config_.PodCidrs();  // the ipRanges capability (runtime_config.h)
    ASSIGN_OR_RETURN(cni::Attachment net, cni_->Setup(pod_network));
    s.network_attached = true;
    s.ips = net.ips;
    RETURN_IF_ERROR(WriteFileReplacing(s.hosts_path, HostsFile(hostname, s.ips), 0644));
  }
  absl::Cleanup teardown = [&] {
    if (s.network_attached) (void)cni_->Teardown(PodNetworkOf(s));
  };
  steps.Mark("cni");

  if (!cfg->runtime.drop_infra_ctr || PodPidNamespace(config)) {
    RETURN_IF_ERROR(StartInfra(s, *cfg));
    steps.Mark("infra");
  } else {
    // No infra process: the pinned namespaces get what its spec would have set.
    runtime::PodNamespaceSettings ns;
    ns.netns_path = s.netns_path;
    ns.ipcns_path = s.ipcns_path;
    ns.utsns_path = s.utsns_path;
    ns.hostname = config.hostname();
    ns.sysctls = PodSysctls(*cfg, config, host_ipc, host_net);
    RETURN_IF_ERROR(Annotate(runtime::ApplyPodNamespaceSettings(ns), "set up the pod's namespaces"));
    steps.Mark("namespaces");
  }
  absl::Cleanup kill_infra = [&] {
    if (auto r = RuntimeFor(s.runtime_handler); r.ok()) (void)(*r)->Delete(s.id, /*force=*/true);
    (void)RemoveAll(ContainerRunDir(s.id));
    (void)RemoveMonitorCgroup(s.cgroup_parent, s.id);
  };
  s.state = SandboxState::kReady;
  RETURN_IF_ERROR(state_.Save(s));
  steps.Mark("save");
  {
    absl::MutexLock l(&sandbox->mu);
    sandbox->record = s;
    sandbox->committed = true;
  }
  std::move(kill_infra).Cancel();
  std::move(teardown).Cancel();
  std::move(unmount_shm).Cancel();
  std::move(unpin).Cancel();
  std::move(remove_run_dir).Cancel();
  std::move(unreserve).Cancel();
  std::move(finish_rollback).Cancel();
  log::Info("pod", "sandbox ready", {{"id", s.id}, {"name", s.name}, {"ip", s.ips.empty() ? "" : s.ips[0]}});
  log::Debug("pod", "sandbox steps (ms)", {{"id", s.id}, {"steps", steps.Summary()}});
  return s.id;
}

absl::Status CriRuntime::StopSandboxLocked(Sandbox& sandbox) {
  SandboxRecord s = sandbox.Snapshot();
  auto update = [&](auto&& change) -> absl::Status {
    absl::MutexLock l(&sandbox.mu);
    change(sandbox.record);
    return state_.Save(sandbox.record);
  };
  // Containers first, without grace: kubelet has already stopped them with theirs.
  for (const auto& c : state_.ContainersOf(s.id)) {
    absl::MutexLock op(&c->op_mu);
    RETURN_IF_ERROR(StopContainerLocked(*c, 0));
  }
  if (s.infra_pid > 0) {
    if (auto fd = sys::PidFd::OpenIdentity({s.infra_pid, s.infra_start_time}); fd.ok()) {
      (void)fd->Signal(SIGKILL);
      if (!WaitGone(s.infra_pid, s.infra_start_time, 10000)) {
        return absl::DeadlineExceededError(StrCat("the infra process ", s.infra_pid, " did not exit"));
      }
    }
  }
  if (s.network_attached) {
    RETURN_IF_ERROR(cni_->Teardown(PodNetworkOf(s)));
    RETURN_IF_ERROR(update([](SandboxRecord& r) { r.network_attached = false; }));
  }
  // The user namespace last: it owns the others.
  for (const std::string& path : {s.netns_path, s.ipcns_path, s.utsns_path, s.userns_path}) {
    if (!path.empty()) RETURN_IF_ERROR(sys::UnpinNamespace(path));
  }
  if (!s.shm_path.empty() && ::umount2(s.shm_path.c_str(), MNT_DETACH) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return ErrnoError("unmount", s.shm_path);
  }
  return update([](SandboxRecord& r) { r.state = SandboxState::kNotReady; });
}

absl::Status CriRuntime::StopPodSandbox(const std::string& id) {
  auto found = state_.FindSandbox(id);
  if (!found.ok()) {
    // Idempotent: a sandbox that is gone is stopped (CRI: "must be idempotent").
    return absl::IsNotFound(found.status()) ? absl::OkStatus() : found.status();
  }
  Sandbox& sandbox = **found;
  absl::MutexLock op(&sandbox.op_mu);
  if (!sandbox.IsCommitted()) return absl::OkStatus();  // its creation failed meanwhile
  ASSIGN_OR_RETURN(intent::Intent intent, intents_->Begin(kIntentStopPodSandbox, sandbox.Snapshot().id));
  return StopSandboxLocked(sandbox);
}

absl::Status CriRuntime::RemovePodSandbox(const std::string& id) {
  auto found = state_.FindSandbox(id);
  if (!found.ok()) return absl::IsNotFound(found.status()) ? absl::OkStatus() : found.status();
  Sandbox& sandbox = **found;
  absl::MutexLock op(&sandbox.op_mu);
  if (!sandbox.IsCommitted()) return absl::OkStatus();
  SandboxRecord s = sandbox.Snapshot();
  ASSIGN_OR_RETURN(intent::Intent intent,
                   intents_->Begin(kIntentRemovePodSandbox, s.id, {{"record", SandboxToJson(s)}}));
  RETURN_IF_ERROR(StopSandboxLocked(sandbox));
  s = sandbox.Snapshot();
  for (const auto& c : state_.ContainersOf(s.id)) {
    absl::MutexLock cop(&c->op_mu);
    RETURN_IF_ERROR(RemoveContainerLocked(*c));
  }
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(s.runtime_handler));
  if (absl::Status st = rt->Delete(s.id, /*force=*/true); !st.ok() && !absl::IsNotFound(st)) return st;
  // The infra's monitor writes the exit file after it has reaped the infra: once it is gone, the file
  // cannot appear again after its removal.
  if (s.monitor_pid > 0 && !WaitGone(s.monitor_pid, s.monitor_start_time, 10000)) {
    return absl::DeadlineExceededError(StrCat("the infra's monitor ", s.monitor_pid, " did not exit"));
  }
  auto cfg = config_.Get();
  RETURN_IF_ERROR(conmon::RemoveExitFile(cfg->ExitsDir(), s.id));
  // The infra monitor's sockets, left behind if it was killed.
  RETURN_IF_ERROR(RemoveAll(SocketBase(s.id) + ".attach"));
  RETURN_IF_ERROR(RemoveAll(SocketBase(s.id) + ".ctl"));
  RETURN_IF_ERROR(RemoveAll(ContainerRunDir(s.id)));
  RETURN_IF_ERROR(RemoveAll(s.run_dir));
  RETURN_IF_ERROR(RemoveMonitorCgroup(s.cgroup_parent, s.id));
  RETURN_IF_ERROR(state_.Delete(s));
  {
    absl::MutexLock l(&sandbox.mu);
    sandbox.committed = false;
  }
  state_.RemoveSandbox(s.id);
  log::Info("pod", "sandbox removed", {{"id", s.id}});
  return absl::OkStatus();
}

void CriRuntime::FillSandboxStatus(const SandboxRecord& s, v1::PodSandboxStatus* st,
                                   std::map<std::string, std::string>* info) {
  st->set_id(s.id);
  *st->mutable_metadata() = s.config.metadata();
  st->set_state(s.state == SandboxState::kReady ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY);
  st->set_created_at(s.created_at);
  if (!s.ips.empty() && s.state == SandboxState::kReady) {
    st->mutable_network()->set_ip(s.ips[0]);
    for (size_t i = 1; i < s.ips.size(); ++i) st->mutable_network()->add_additional_ips()->set_ip(s.ips[i]);
  }
  v1::NamespaceOption* ns = st->mutable_linux()->mutable_namespaces()->mutable_options();
  *ns = s.config.linux().security_context().namespace_options();
  *st->mutable_labels() = s.config.labels();
  *st->mutable_annotations() = s.config.annotations();
  st->set_runtime_handler(s.runtime_handler);
  if (info != nullptr) {
    nlohmann::json j = {{"pid", s.infra_pid},
                        {"monitorPid", s.monitor_pid},
                        {"netns", s.netns_path},
                        {"userns", s.userns_path},
                        {"runDir", s.run_dir},
                        {"cgroupParent", s.cgroup_parent},
                        {"runtimeHandler", s.runtime_handler}};
    AddPodResourcesInfo(s, j);
    (*info)["info"] = j.dump();
  }
}

absl::Status CriRuntime::PodSandboxStatus(const std::string& id, bool verbose,
                                          v1::PodSandboxStatusResponse* resp) {
  ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> sandbox, state_.FindSandbox(id));
  absl::MutexLock l(&sandbox->mu);
  if (!sandbox->committed) return absl::NotFoundError(StrCat("pod sandbox \"", id, "\" not found"));
  std::map<std::string, std::string> info;
  FillSandboxStatus(sandbox->record, resp->mutable_status(), verbose ? &info : nullptr);
  for (auto& [k, v] : info) (*resp->mutable_info())[k] = v;
  return absl::OkStatus();
}

absl::Status CriRuntime::ListPodSandbox(const v1::PodSandboxFilter& filter,
                                        v1::ListPodSandboxResponse* resp) {
  for (const auto& sandbox : state_.Sandboxes()) {
    absl::MutexLock l(&sandbox->mu);
    if (!sandbox->committed) continue;  // being created
    const SandboxRecord& s = sandbox->record;
    if (!filter.id().empty() && !s.id.starts_with(filter.id())) continue;
    v1::PodSandboxState state = s.state == SandboxState::kReady ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY;
    if (filter.has_state() && filter.state().state() != state) continue;
    bool labels_match = true;
    for (const auto& [k, v] : filter.label_selector()) {
      auto it = s.config.labels().find(k);
      if (it == s.config.labels().end() || it->second != v) labels_match = false;
    }
    if (!labels_match) continue;
    v1::PodSandbox* p = resp->add_items();
    p->set_id(s.id);
    *p->mutable_metadata() = s.config.metadata();
    p->set_state(state);
    p->set_created_at(s.created_at);
    *p->mutable_labels() = s.config.labels();
    *p->mutable_annotations() = s.config.annotations();
    p->set_runtime_handler(s.runtime_handler);
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
