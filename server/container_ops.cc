// CreateContainer, StartContainer, StopContainer, RemoveContainer, ContainerStatus, ListContainers,
// UpdateContainerResources, ReopenContainerLog.
#include <signal.h>
#include <string.h>

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
#include "lib/image/manifest.h"
#include "lib/sys/pidfd.h"
#include "lib/sys/proc_status.h"
#include "server/cdi_devices.h"
#include "server/container_spec.h"
#include "server/cri_runtime.h"
#include "server/image_lookup.h"
#include "server/image_volumes.h"
#include "server/intent_kinds.h"
#include "server/monitor_settings.h"
#include "server/seccomp_choice.h"
#include "server/step_timer.h"
#include "server/user_namespace.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

// "SIGTERM", "TERM", "15", "SIGRTMIN+3" → the signal number; 0 when unknown.
int ParseSignal(std::string_view name) {
  if (auto n = ParseInt64(name); n && *n > 0 && *n < 65) return static_cast<int>(*n);
  std::string s = ToUpper(name);
  if (s.starts_with("SIG")) s = s.substr(3);
  if (s.starts_with("RTMIN")) {
    int64_t off = 0;
    if (s.size() > 5) {
      auto o = ParseInt64(s.substr(s[5] == '+' ? 6 : 5));
      if (!o) return 0;
      off = *o;
    }
    return SIGRTMIN + static_cast<int>(off) <= SIGRTMAX ? SIGRTMIN + static_cast<int>(off) : 0;
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && s == abbrev) return sig;
  }
  return 0;
}

int StopSignalOf(const v1::ContainerConfig& config, const image::ImageConfig& image) {
  if (config.stop_signal() != v1::SIGNAL_RUNTIME_DEFAULT) {
    std::string name = v1::Signal_Name(config.stop_signal());
    if (int sig = ParseSignal(std::string_view(name).substr(std::string_view("SIGNAL_").size())); sig > 0) {
      return sig;
    }
  }
  if (int sig = ParseSignal(image.stop_signal); sig > 0) return sig;
  return SIGTERM;
}

v1::ContainerState CriState(ContainerState s) {
  switch (s) {
    case ContainerState::kCreated:
      return v1::CONTAINER_CREATED;
    case ContainerState::kRunning:
      return v1::CONTAINER_RUNNING;
    case ContainerState::kExited:
      return v1::CONTAINER_EXITED;
    default:
      return v1::CONTAINER_UNKNOWN;
  }
}

absl::Status CheckConfig(const v1::ContainerConfig& config) {
  if (!config.has_metadata() || config.metadata().name().empty()) {
    return absl::InvalidArgumentError("container config: metadata.name is required");
  }
  if (config.image().image().empty())
    return absl::InvalidArgumentError("container config: image.image is required");
  return absl::OkStatus();
}

bool Exited(ContainerRecord* r) { return r->state == ContainerState::kExited; }

// The ids of a process (read from the host) as its container sees them through the pod's maps.
ContainerRecord::User ContainerIds(const sys::ProcessCredentials& host,
                                   const std::optional<UserNamespaceMaps>& userns) {
  ContainerRecord::User u{host.uid, host.gid, host.groups};
  if (!userns) return u;
  u.uid = IdInNamespace(userns->uid_map, host.uid);
  u.gid = IdInNamespace(userns->gid_map, host.gid);
  for (uint32_t& g : u.groups) g = IdInNamespace(userns->gid_map, g);
  return u;
}

// What the process of a just-created container really got (it sets its credentials before it waits
// for start); nullopt, logged, when it cannot be read.
std::optional<ContainerRecord::User> ReadContainerUser(const ContainerRecord& c,
                                                       const std::optional<UserNamespaceMaps>& userns) {
  auto creds = sys::ReadProcessCredentials({c.pid, c.start_time});
  if (creds.ok()) return ContainerIds(*creds, userns);
  log::Warn("container", "cannot read the credentials of its process",
            {{"id", c.id}, {"error", creds.status()}});
  return std::nullopt;
}

// Recursive read-only mounts need mount_setattr(2) (Linux 5.12), idmapped ones what user namespaces
// need (the host's probes at start).
absl::Status CheckHostCanMount(const v1::ContainerConfig& config, const HostFacts& host) {
  for (const v1::Mount& m : config.mounts()) {
    const bool idmapped = m.uidmappings_size() > 0 || m.gidmappings_size() > 0;
    for (const auto& [wanted, kind, can] :
         {std::tuple{m.recursive_read_only(), "recursive read-only", &host.recursive_read_only},
          std::tuple{idmapped, "idmapped", &host.user_namespaces}}) {
      if (wanted && !can->ok()) {
        return absl::FailedPreconditionError(
            StrCat("mount on ", m.container_path(), ": ", kind,
                   " mounts are not available on this host: ", can->message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<UserNamespaceMaps> CriRuntime::PodUserns(const std::string& sandbox_id) const {
  std::shared_ptr<Sandbox> sb = state_.GetSandbox(sandbox_id);
  if (!sb) return std::nullopt;
  auto maps = PodUserNamespace(sb->Snapshot().config.linux().security_context().namespace_options());
  return maps.ok() ? *maps : std::nullopt;
}

absl::StatusOr<std::string> CriRuntime::CreateContainer(const std::string& sandbox_id,
                                                        const v1::ContainerConfig& config) {
  auto cfg = config_.Get();
  StepTimer steps;
  RETURN_IF_ERROR(CheckConfig(config));
  ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> sandbox, state_.FindSandbox(sandbox_id));
  // Shared with other creations in the pod, exclusive of its stop and removal: a container is never
  // added to a pod whose containers are being stopped or removed.
  absl::ReaderMutexLock pod_op(&sandbox->op_mu);
  SandboxRecord sb = sandbox->Snapshot();
  if (!sandbox->IsCommitted() || sb.state != SandboxState::kReady) {
    return absl::FailedPreconditionError(StrCat("pod sandbox ", sb.id, " is not ready"));
  }
  ASSIGN_OR_RETURN(storage::ImageInfo image, LookupImage(*store_, config.image().image()));
  ASSIGN_OR_RETURN(image::ImageConfig image_config, image::ParseImageConfig(image.config));
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(sb.runtime_handler));
  ASSIGN_OR_RETURN(std::vector<std::string> cdi_names, RequestedCdiDevices(config));
  ASSIGN_OR_RETURN(cdi::Resolution cdi_devices, cdi_.Resolve(cfg->runtime.cdi_spec_dirs, cdi_names));
  RETURN_IF_ERROR(CheckHostCanMount(config, host_));
  ASSIGN_OR_RETURN(std::optional<UserNamespaceMaps> userns,
                   PodUserNamespace(sb.config.linux().security_context().namespace_options()));

  auto container = std::make_shared<Container>();
  absl::MutexLock op(&container->op_mu);
  ContainerRecord c;
  c.id = RandomHexId();
  c.name = StrCat(config.metadata().name(), "_", sb.name, "_", config.metadata().attempt());
  c.sandbox_id = sb.id;
  c.config = config;
  c.image_ref = image.id;
  c.image_name = config.image().image();
  c.runtime_handler = sb.runtime_handler;
  c.created_at = RealtimeNow();
  c.stop_signal = StopSignalOf(config, image_config);
  c.bundle = ContainerRunDir(c.id);
  c.attach_socket = SocketBase(c.id) + ".attach";
  c.control_socket = SocketBase(c.id) + ".ctl";
  if (PathExists(c.attach_socket) || PathExists(c.control_socket)) {
    return absl::AlreadyExistsError(StrCat("socket path of container ", c.id, " is taken"));
  }
  const std::string& log_dir = sb.config.log_directory();
  if (!log_dir.empty() && !config.log_path().empty()) {
    c.log_path = JoinPath(log_dir, config.log_path());
  } else {
    c.log_path = JoinPath(cfg->root.log_dir, c.id + ".log");
  }
  RETURN_IF_ERROR(state_.AddContainer(container, c.id, c.name, c.sandbox_id));
  absl::Cleanup unreserve = [&] { state_.RemoveContainer(c.id); };
  ASSIGN_OR_RETURN(intent::Intent intent,
                   intents_->Begin(kIntentCreateContainer, c.id,
                                   {{"record", ContainerToJson(c)}, {"cgroup_parent", sb.cgroup_parent}}));
  absl::Cleanup finish_rollback = [&] { FinishRollback(std::move(intent), c.id, sb.cgroup_parent); };

  // In a user namespace the image's layers are seen through the pod's maps (idmapped, not chowned).
  storage::RootfsOptions rootfs_options;
  if (userns) rootfs_options.idmap = {userns->uid_map, userns->gid_map};
  steps.Mark("validate");
  ASSIGN_OR_RETURN(storage::ContainerRootfs created,
                   store_->CreateContainerRootfs(c.id, image.id, rootfs_options));
  absl::Cleanup remove_rootfs = [&] { (void)store_->RemoveContainerRootfs(c.id); };
  ASSIGN_OR_RETURN(c.rootfs, store_->MountContainerRootfs(c.id, rootfs_options.idmap));
  ASSIGN_OR_RETURN(std::vector<ImageVolumeMount> image_volumes,
                   MountImageVolumes(*store_, c.id, config, rootfs_options.idmap));
  steps.Mark("rootfs");

  const v1::LinuxContainerSecurityContext& sc = config.linux().security_context();
  std::vector<std::string> caps = host_.capabilities;
  if (!sc.privileged()) {
    ASSIGN_OR_RETURN(caps, ContainerCapabilities(cfg->runtime.default_capabilities, sc.capabilities(),
                                                 host_.capabilities));
  }
  ContainerSpecInput in;
  in.id = c.id;
  in.config = &config;
  in.image = &image_config;
  in.image_ref = image.id;
  in.rootfs = c.rootfs;
  in.daemon = cfg.get();
  in.host_capabilities = host_.capabilities;
  ASSIGN_OR_RETURN(in.seccomp, ResolveSeccomp(sc, cfg->runtime, caps, host_.seccomp_platform));
  in.cgroup_v2 = host_.cgroup_v2;
  in.image_volumes = std::move(image_volumes);
  in.declared_volumes_dir = created.dir + "/volumes";  // removed with the rootfs
  in.cdi = &cdi_devices;
  SandboxShare& share = in.sandbox;
  share.id = sb.id;
  share.hostname = sb.config.hostname();
  share.netns_path = sb.netns_path;
  share.ipcns_path = sb.ipcns_path;
  share.utsns_path = sb.utsns_path;
  if (sb.infra_pid > 0) share.pidns_path = StrCat("/proc/", sb.infra_pid, "/ns/pid");
  share.host_pid = sb.config.linux().security_context().namespace_options().pid() == v1::NODE;
  share.hosts_path = sb.hosts_path;
  share.resolv_conf_path = sb.resolv_conf_path;
  share.hostname_path = sb.hostname_path;
  share.shm_path = sb.shm_path;
  share.cgroup_parent = sb.cgroup_parent;
  share.log_directory = log_dir;
  share.userns_path = sb.userns_path;
  share.userns = userns;
  if (sc.namespace_options().pid() == v1::TARGET) {
    auto target = state_.FindContainer(sc.namespace_options().target_id());
    if (target.ok()) {
      ContainerRecord t = (*target)->Snapshot();
      if (t.state == ContainerState::kRunning) in.target_pidns_path = StrCat("/proc/", t.pid, "/ns/pid");
    }
  }
  ASSIGN_OR_RETURN(oci::Spec spec, BuildContainerSpec(in));
  RETURN_IF_ERROR(InjectConfiguredHooks(cfg->runtime.hooks_dir, c.id, &spec));

  RETURN_IF_ERROR(MkdirAll(c.bundle, 0700));
  absl::Cleanup remove_bundle = [&] { (void)RemoveAll(c.bundle); };
  RETURN_IF_ERROR(WriteFileReplacing(JoinPath(c.bundle, "config.json"), oci::SerializeSpec(spec), 0600));
  steps.Mark("spec");

  conmon::MonitorOptions mo;
  RETURN_IF_ERROR(ApplyMonitorSettings(*cfg, c.runtime_handler, HostCgroupLayout(), sb.cgroup_parent, c.id,
                                       helpers_.conmon, &mo));
  absl::Cleanup remove_monitor_cgroup = [&] { (void)RemoveMonitorCgroup(sb.cgroup_parent, c.id); };
  mo.config.id = c.id;
  mo.config.runtime_root = rt->options().root;
  mo.config.systemd_cgroup = rt->options().systemd_cgroup;
  mo.config.bundle = c.bundle;
  mo.config.no_pivot = cfg->runtime.no_pivot;
  mo.config.log_path = c.log_path;
  mo.config.log_size_max = cfg->runtime.log_size_max;
  mo.config.exits_dir = cfg->ExitsDir();
  mo.config.attach_socket = c.attach_socket;
  mo.config.control_socket = c.control_socket;
  mo.config.terminal = config.tty();
  mo.config.stdin = config.stdin();
  mo.config.stdin_once = config.stdin_once();
  mo.config.log_level = cfg->runtime.log_level;
  mo.diagnostics_log = JoinPath(c.bundle, "conmon.log");
  auto monitor = conmon::SpawnMonitor(mo);
  if (!monitor.ok()) {
    (void)rt->Delete(c.id, /*force=*/true);
    return monitor.status();
  }
  steps.Mark("monitor");
  c.pid = monitor->container.pid;
  c.start_time = monitor->container.start_time;
  c.monitor_pid = monitor->monitor.pid;
  c.monitor_start_time = monitor->monitor.start_time;
  c.state = ContainerState::kCreated;
  c.user = ReadContainerUser(c, userns);
  if (absl::Status st = state_.Save(c); !st.ok()) {
    (void)rt->Delete(c.id, /*force=*/true);
    return st;
  }
  steps.Mark("save");
  {
    absl::MutexLock l(&container->mu);
    container->record = c;
    container->committed = true;
  }
  std::move(remove_bundle).Cancel();
  std::move(remove_monitor_cgroup).Cancel();
  std::move(remove_rootfs).Cancel();
  std::move(unreserve).Cancel();
  std::move(finish_rollback).Cancel();
  log::Info("container", "created", {{"id", c.id}, {"name", c.name}, {"sandbox", c.sandbox_id}});
  log::Debug("container", "create steps (ms)", {{"id", c.id}, {"steps", steps.Summary()}});
  return c.id;
}

absl::Status CriRuntime::InjectConfiguredHooks(const std::vector<std::string>& dirs, const std::string& id,
                                               oci::Spec* spec) {
  auto definitions = hooks_.Get(dirs);
  if (!definitions.ok()) {
    // Not the request's fault: the node's hook definitions are broken, and a container that needs one
    // must not start without it.
    return absl::FailedPreconditionError(
        StrCat("crio.runtime.hooks_dir: ", ToStd(definitions.status().message())));
  }
  for (const std::string& file : oci::InjectHooks(**definitions, spec)) {
    log::Info("container", "hook injected", {{"id", id}, {"definition", file}});
  }
  return absl::OkStatus();
}

absl::Status CriRuntime::StartContainer(const std::string& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, state_.FindContainer(id));
  absl::MutexLock op(&container->op_mu);
  if (!container->IsCommitted()) return absl::NotFoundError(StrCat("container \"", id, "\" not found"));
  ContainerRecord c = container->Snapshot();
  if (c.state != ContainerState::kCreated) {
    return absl::FailedPreconditionError(
        StrCat("container ", c.id, " is ", ContainerStateName(c.state), ", not created"));
  }
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(c.runtime_handler));
  ASSIGN_OR_RETURN(intent::Intent intent, intents_->Begin(kIntentStartContainer, c.id));
  // Taken before the process is released: a quick one may exit (its monitor stamping finished_at)
  // before Start returns, and started_at must never be after finished_at. Recorded before the
  // release too, so that the exit of such a process is seen after its start (container_events.h).
  int64_t released_at = RealtimeNow();
  {
    absl::MutexLock l(&container->mu);
    container->record.started_at = released_at;
  }
  absl::Status st = rt->Start(c.id);
  absl::MutexLock l(&container->mu);
  ContainerRecord& r = container->record;
  if (!st.ok()) {
    (void)rt->Kill(c.id, SIGKILL, /*all=*/true);
    r.started_at = 0;
    r.state = ContainerState::kExited;
    r.finished_at = RealtimeNow();
    r.exit_code = 128;
    r.reason = "StartError";
    r.message = std::string(st.message());
    (void)state_.Save(r);
    return st;
  }
  r.started_at = released_at;
  // A quick container may have exited (and been recorded) already.
  if (r.state == ContainerState::kCreated) r.state = ContainerState::kRunning;
  return state_.Save(r);
}

absl::Status CriRuntime::StopContainerLocked(Container& container, int64_t timeout_seconds) {
  ContainerRecord c = container.Snapshot();
  if (!container.IsCommitted() ||
      (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated)) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(c.runtime_handler));
  auto wait = [&](absl::Duration d) {
    absl::MutexLock l(&container.mu);
    return container.mu.AwaitWithTimeout(absl::Condition(&Exited, &container.record), d);
  };
  if (timeout_seconds > 0 && c.state == ContainerState::kRunning) {
    (void)rt->Kill(c.id, c.stop_signal, /*all=*/false);
    if (wait(absl::Seconds(timeout_seconds))) return absl::OkStatus();
  }
  (void)rt->Kill(c.id, SIGKILL, /*all=*/true);
  // [crio.runtime] ctr_stop_timeout: how long a killed container may still be seen running before the
  // stop is an error (a process in uninterruptible sleep, a monitor that does not report).
  if (wait(absl::Seconds(std::max<int64_t>(1, config_.Get()->runtime.ctr_stop_timeout))))
    return absl::OkStatus();
  // No exit record: the monitor is gone. Settle the state from the process itself.
  auto fd = sys::PidFd::OpenIdentity({c.pid, c.start_time});
  if (fd.ok() && !fd->Exited()) {
    return absl::DeadlineExceededError(StrCat("container ", c.id, " did not exit after SIGKILL"));
  }
  absl::MutexLock l(&container.mu);
  ContainerRecord& r = container.record;
  if (r.state != ContainerState::kExited) {
    r.state = ContainerState::kExited;
    r.finished_at = RealtimeNow();
    r.exit_code = 128 + SIGKILL;
    r.reason = "Error";
    r.message = "killed; its monitor recorded no exit";
    RETURN_IF_ERROR(state_.Save(r));
  }
  return absl::OkStatus();
}

absl::Status CriRuntime::StopContainer(const std::string& id, int64_t timeout_seconds) {
  auto found = state_.FindContainer(id);
  if (!found.ok()) return absl::IsNotFound(found.status()) ? absl::OkStatus() : found.status();
  absl::MutexLock op(&(*found)->op_mu);
  return StopContainerLocked(**found, timeout_seconds);
}

absl::Status CriRuntime::RemoveContainerLocked(Container& container) {
  if (!container.IsCommitted()) return absl::OkStatus();
  RETURN_IF_ERROR(StopContainerLocked(container, 0));
  ContainerRecord c = container.Snapshot();
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(c.runtime_handler));
  if (absl::Status st = rt->Delete(c.id, /*force=*/true); !st.ok() && !absl::IsNotFound(st)) return st;
  RETURN_IF_ERROR(store_->RemoveContainerRootfs(c.id));
  auto cfg = config_.Get();
  RETURN_IF_ERROR(conmon::RemoveExitFile(cfg->ExitsDir(), c.id));
  // The monitor removes its sockets when it ends; one that was killed leaves them behind.
  for (const std::string& socket : {c.attach_socket, c.control_socket}) {
    if (!socket.empty()) RETURN_IF_ERROR(RemoveAll(socket));
  }
  RETURN_IF_ERROR(RemoveAll(c.bundle));
  RETURN_IF_ERROR(RemoveMonitorCgroup(SandboxCgroupParent(c.sandbox_id), c.id));
  RETURN_IF_ERROR(state_.Delete(c));
  {
    absl::MutexLock l(&container.mu);
    container.committed = false;
  }
  state_.RemoveContainer(c.id);
  log::Info("container", "removed", {{"id", c.id}});
  return absl::OkStatus();
}

absl::Status CriRuntime::RemoveContainer(const std::string& id) {
  auto found = state_.FindContainer(id);
  if (!found.ok()) return absl::IsNotFound(found.status()) ? absl::OkStatus() : found.status();
  absl::MutexLock op(&(*found)->op_mu);
  if (!(*found)->IsCommitted()) return absl::OkStatus();
  ContainerRecord c = (*found)->Snapshot();
  std::shared_ptr<Sandbox> sandbox = state_.GetSandbox(c.sandbox_id);
  ASSIGN_OR_RETURN(intent::Intent intent,
                   intents_->Begin(kIntentRemoveContainer, c.id,
                                   {{"record", ContainerToJson(c)},
                                    {"cgroup_parent", sandbox ? sandbox->Snapshot().cgroup_parent : ""}}));
  return RemoveContainerLocked(**found);
}

void CriRuntime::FillContainerStatus(const ContainerRecord& c, bool verbose, v1::ContainerStatus* st,
                                     std::map<std::string, std::string>* info) {
  st->set_id(c.id);
  *st->mutable_metadata() = c.config.metadata();
  st->set_state(CriState(c.state));
  st->set_created_at(c.created_at);
  st->set_started_at(c.started_at);
  st->set_finished_at(c.finished_at);
  st->set_exit_code(c.exit_code);
  *st->mutable_image() = c.config.image();
  st->mutable_image()->set_image(c.image_name);
  st->set_image_id(c.image_ref);
  st->set_image_ref(c.image_ref);
  if (auto img = store_->GetImage(c.image_ref); img.ok() && !img->repo_digests.empty()) {
    st->set_image_ref(img->repo_digests[0]);
  }
  st->set_reason(c.reason);
  st->set_message(c.message);
  *st->mutable_labels() = c.config.labels();
  *st->mutable_annotations() = c.config.annotations();
  *st->mutable_mounts() = c.config.mounts();
  st->set_log_path(c.log_path);
  *st->mutable_resources()->mutable_linux() = c.config.linux().resources();
  // The ids the process runs with: read from it while it runs, else as recorded when it was created.
  std::optional<ContainerRecord::User> user = c.user;
  if (c.state == ContainerState::kRunning || c.state == ContainerState::kCreated) {
    if (auto creds = sys::ReadProcessCredentials({c.pid, c.start_time}); creds.ok()) {
      user = ContainerIds(*creds, PodUserns(c.sandbox_id));
    }
  }
  if (user) {
    v1::LinuxContainerUser* lu = st->mutable_user()->mutable_linux();
    lu->set_uid(user->uid);
    lu->set_gid(user->gid);
    for (uint32_t g : user->groups) lu->add_supplemental_groups(g);
  }
  if (verbose && info != nullptr) {
    nlohmann::json j = {{"pid", c.pid},
                        {"sandboxID", c.sandbox_id},
                        {"monitorPid", c.monitor_pid},
                        {"bundle", c.bundle},
                        {"rootfs", c.rootfs},
                        {"runtimeHandler", c.runtime_handler},
                        {"privileged", c.config.linux().security_context().privileged()}};
    if (auto spec = ReadFile(JoinPath(c.bundle, "config.json")); spec.ok()) {
      auto parsed = nlohmann::json::parse(*spec, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) j["runtimeSpec"] = parsed;
    }
    (*info)["info"] = j.dump();
  }
}

absl::Status CriRuntime::ContainerStatus(const std::string& id, bool verbose,
                                         v1::ContainerStatusResponse* resp) {
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, state_.FindContainer(id));
  ContainerRecord c = container->Snapshot();
  if (!container->IsCommitted()) return absl::NotFoundError(StrCat("container \"", id, "\" not found"));
  std::map<std::string, std::string> info;
  FillContainerStatus(c, verbose, resp->mutable_status(), &info);
  for (auto& [k, v] : info) (*resp->mutable_info())[k] = v;
  return absl::OkStatus();
}

absl::Status CriRuntime::ListContainers(const v1::ContainerFilter& filter, v1::ListContainersResponse* resp) {
  for (const auto& container : state_.Containers()) {
    if (!container->IsCommitted()) continue;
    ContainerRecord c = container->Snapshot();
    if (!filter.id().empty() && !c.id.starts_with(filter.id())) continue;
    if (!filter.pod_sandbox_id().empty() && !c.sandbox_id.starts_with(filter.pod_sandbox_id())) continue;
    if (filter.has_state() && filter.state().state() != CriState(c.state)) continue;
    bool labels_match = true;
    for (const auto& [k, v] : filter.label_selector()) {
      auto it = c.config.labels().find(k);
      if (it == c.config.labels().end() || it->second != v) labels_match = false;
    }
    if (!labels_match) continue;
    v1::Container* item = resp->add_containers();
    item->set_id(c.id);
    item->set_pod_sandbox_id(c.sandbox_id);
    *item->mutable_metadata() = c.config.metadata();
    *item->mutable_image() = c.config.image();
    item->mutable_image()->set_image(c.image_name);
    item->set_image_ref(c.image_ref);
    item->set_image_id(c.image_ref);
    item->set_state(CriState(c.state));
    item->set_created_at(c.created_at);
    *item->mutable_labels() = c.config.labels();
    *item->mutable_annotations() = c.config.annotations();
  }
  return absl::OkStatus();
}

absl::Status CriRuntime::UpdateContainerResources(const std::string& id,
                                                  const v1::LinuxContainerResources& res) {
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, state_.FindContainer(id));
  absl::MutexLock op(&container->op_mu);
  ContainerRecord c = container->Snapshot();
  if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) {
    return absl::FailedPreconditionError(StrCat("container ", c.id, " is ", ContainerStateName(c.state)));
  }
  ASSIGN_OR_RETURN(oci::LinuxResources oci_res, ToOciResources(res, host_.cgroup_v2));
  ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(c.runtime_handler));
  RETURN_IF_ERROR(rt->Update(c.id, oci_res));
  absl::MutexLock l(&container->mu);
  *container->record.config.mutable_linux()->mutable_resources() = res;
  return state_.Save(container->record);
}

absl::Status CriRuntime::ReopenContainerLog(const std::string& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<Container> container, state_.FindContainer(id));
  ContainerRecord c = container->Snapshot();
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", c.id, " is not running"));
  }
  return conmon::ReopenLog(c.control_socket);
}

}  // namespace cricket::server
