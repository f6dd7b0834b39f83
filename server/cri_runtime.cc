#include "server/cri_runtime.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include "conmon/client.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/oci/capabilities.h"
#include "lib/storage/overlay_mount.h"
#include "lib/sys/mount_tree.h"
#include "lib/sys/namespace_pin.h"
#include "lib/sys/pidfd.h"
#include "server/monitor_settings.h"

namespace cricket::server {

namespace {

absl::StatusOr<std::string> FindHelper(const std::string& name, const std::string& configured) {
  if (!configured.empty()) {
    if (::access(configured.c_str(), X_OK) != 0) return ErrnoError("use helper", configured);
    return configured;
  }
  std::vector<std::string> candidates;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) candidates.push_back(JoinPath(DirName(std::string(self, static_cast<size_t>(n))), name));
  candidates.push_back("/usr/local/libexec/cricket/" + name);
  candidates.push_back("/usr/libexec/cricket/" + name);
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return absl::NotFoundError(StrCat(name, " not found (looked in ", Join(candidates, ", "), ")"));
}

// The read-only root filesystem of every infra container: cricket-pause and the mount points the
// runtime needs, made from cricketd's own files so that no pause image is pulled.
absl::StatusOr<std::string> PrepareInfraRootfs(const std::string& runroot, const std::string& pause) {
  std::string dir = JoinPath(runroot, "infra-rootfs");
  for (const char* sub : {"proc", "dev", "sys", "etc"}) RETURN_IF_ERROR(MkdirAll(JoinPath(dir, sub), 0755));
  ASSIGN_OR_RETURN(std::string binary, ReadFile(pause, 64 << 20));
  RETURN_IF_ERROR(WriteFileAtomic(JoinPath(dir, "pause"), binary, 0755));
  return dir;
}

// Whether a pod without an infra process is still up: its run directory (under runroot, so gone after a
// reboot) and every namespace it pinned.
bool SandboxNamespacesHeld(const SandboxRecord& r) {
  struct stat st {};
  if (::stat(r.run_dir.c_str(), &st) != 0) return false;
  for (const std::string& p : {r.netns_path, r.ipcns_path, r.utsns_path, r.userns_path}) {
    if (!p.empty() && !sys::IsPinned(p)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<HelperPaths> CriRuntime::FindHelpers(const Config& config) {
  HelperPaths paths;
  const RuntimeHandler* handler = config.FindHandler("");
  std::string conmon =
      handler && !handler->monitor_path.empty() ? handler->monitor_path : config.runtime.conmon;
  ASSIGN_OR_RETURN(paths.conmon, FindHelper("cricket-conmon", conmon));
  ASSIGN_OR_RETURN(paths.pause, FindHelper("cricket-pause", ""));
  return paths;
}

CriRuntime::CriRuntime(const ConfigHolder& config, HelperPaths helpers, std::unique_ptr<storage::Store> store,
                       HostFacts host)
    : config_(config),
      helpers_(std::move(helpers)),
      store_(std::move(store)),
      host_(std::move(host)),
      metrics_(std::make_unique<metrics::DaemonMetrics>(config.Get()->metrics.metrics_collectors,
                                                        config.Get()->runtime.default_runtime)),
      state_(config.Get()->root.root),
      runtime_config_(JoinPath(config.Get()->root.root, "runtime-config.json")) {
  state_.SetObserver(&events_);
  ConnectEventsAndMetrics();
}

CriRuntime::~CriRuntime() {
  {
    absl::MutexLock l(&janitor_mu_);
    stopping_ = true;
    janitor_cv_.SignalAll();
  }
  if (janitor_thread_.joinable()) janitor_thread_.join();
  if (stop_event_) {
    uint64_t one = 1;
    (void)!::write(stop_event_.get(), &one, sizeof(one));
  }
  if (exit_thread_.joinable()) exit_thread_.join();
}

absl::StatusOr<std::unique_ptr<CriRuntime>> CriRuntime::Open(const ConfigHolder& holder,
                                                             HelperPaths helpers) {
  auto cfg = holder.Get();
  HostFacts host;
  ASSIGN_OR_RETURN(host.capabilities, oci::HostGrantableCapabilities());
  ASSIGN_OR_RETURN(host.seccomp_platform, oci::HostSeccompPlatform());
  ASSIGN_OR_RETURN(cgroups::Layout layout, cgroups::Layout::Detect());
  host.cgroup_v2 = layout.mode() == cgroups::Mode::kV2;
  host.cgroup_layout = std::move(layout);
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) == 0) host.hostname = name;

  storage::StoreOptions store_options;
  store_options.root = cfg->ImageStoreDir();
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(store_options));
  host.user_namespaces = sys::ProbeIdmappedMount(store_options.root);
  if (host.user_namespaces.ok()) host.user_namespaces = storage::ProbeIdmappedOverlay(store_options.root);
  host.recursive_read_only = sys::ProbeRecursiveReadOnly(store_options.root);
  for (const auto& [feature, status] : {std::pair{"user namespaces", &host.user_namespaces},
                                        std::pair{"recursive read-only mounts", &host.recursive_read_only}}) {
    if (!status->ok())
      log::Warn("runtime", "not available on this host", {{"feature", feature}, {"error", *status}});
  }

  std::unique_ptr<CriRuntime> rt(
      new CriRuntime(holder, std::move(helpers), std::move(store), std::move(host)));
  cni::ManagerOptions cni_options;
  cni_options.network_dir = cfg->network.network_dir;
  cni_options.plugin_dirs = cfg->network.plugin_dirs;
  cni_options.default_network = cfg->network.cni_default_network;
  cni_options.cache_dir = JoinPath(cfg->root.root, "cni/results");
  rt->cni_ = std::make_unique<cni::Manager>(cni_options);

  for (const auto& [name, handler] : cfg->runtimes) {
    runtime::RuntimeOptions ro;
    ro.root = cfg->RuntimeRoot(name);
    ro.systemd_cgroup = cfg->runtime.cgroup_manager == "systemd";
    ro.cgroup_layout = rt->host_.cgroup_layout;
    ASSIGN_OR_RETURN(runtime::Runtime r, runtime::Runtime::Open(ro));
    rt->runtimes_[name] = std::make_unique<runtime::Runtime>(std::move(r));
  }
  ASSIGN_OR_RETURN(rt->infra_rootfs_, PrepareInfraRootfs(cfg->root.runroot, rt->helpers_.pause));
  RETURN_IF_ERROR(MkdirAll(JoinPath(cfg->root.runroot, "pods"), 0700));
  RETURN_IF_ERROR(MkdirAll(JoinPath(cfg->root.runroot, "containers"), 0700));
  RETURN_IF_ERROR(MkdirAll(cfg->AttachSocketDir(), 0700));

  ASSIGN_OR_RETURN(intent::Log intents, intent::Log::Open(JoinPath(cfg->root.root, "intents")));
  rt->intents_.emplace(std::move(intents));
  ASSIGN_OR_RETURN(conmon::ExitWatcher watcher, conmon::ExitWatcher::Open(cfg->ExitsDir()));
  rt->exits_.emplace(std::move(watcher));
  if (absl::Status st = rt->runtime_config_.Load(); !st.ok()) {
    log::Warn("state", "ignoring the stored runtime config; kubelet sends it again", {{"error", st}});
  }
  RETURN_IF_ERROR(rt->Recover());

  rt->stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!rt->stop_event_) return ErrnoError("eventfd", "exit monitor");
  rt->exit_thread_ = std::thread([p = rt.get()] { p->ExitLoop(); });
  // With the exit monitor running: completing an interrupted stop waits for exits like an RPC does.
  rt->RecoverOperations();
  rt->janitor_thread_ = std::thread([p = rt.get()] { p->JanitorLoop(); });
  return rt;
}

absl::StatusOr<runtime::Runtime*> CriRuntime::RuntimeFor(const std::string& handler) {
  auto cfg = config_.Get();
  std::string name = handler.empty() ? cfg->runtime.default_runtime : handler;
  auto it = runtimes_.find(name);
  if (it == runtimes_.end()) {
    return absl::InvalidArgumentError(StrCat("runtime handler \"", handler, "\" is not configured"));
  }
  return it->second.get();
}

const cgroups::Layout* CriRuntime::HostCgroupLayout() const {
  return host_.cgroup_layout ? &*host_.cgroup_layout : nullptr;
}

std::string CriRuntime::SandboxCgroupParent(const std::string& id) {
  auto sandbox = state_.FindSandbox(id);
  return sandbox.ok() ? (*sandbox)->Snapshot().cgroup_parent : "";
}

absl::Status CriRuntime::RemoveMonitorCgroup(const std::string& cgroup_parent, const std::string& id) const {
  if (!host_.cgroup_layout) return absl::OkStatus();
  return RemovePodMonitorCgroup(*host_.cgroup_layout, config_.Get()->runtime.cgroup_manager, cgroup_parent,
                                id);
}

std::string CriRuntime::ContainerRunDir(const std::string& id) const {
  return JoinPath(config_.Get()->root.runroot, "containers/" + id);
}

// Socket paths must fit sockaddr_un (108 bytes): half of the id is as unique as all of it in practice,
// and creation refuses a collision.
std::string CriRuntime::SocketBase(const std::string& id) const {
  return JoinPath(config_.Get()->AttachSocketDir(), id.substr(0, 32));
}

absl::Status CriRuntime::Recover() {
  ASSIGN_OR_RETURN(std::vector<std::string> problems, state_.Load());
  for (const std::string& p : problems) log::Error("state", "damaged record set aside", {{"problem", p}});
  ASSIGN_OR_RETURN(std::vector<conmon::ExitRecord> exits, exits_->Scan());
  for (const conmon::ExitRecord& e : exits) ApplyExit(e);

  // Containers whose init is gone without an exit record: their monitor died with them (or the node
  // rebooted and the run directory is gone).
  for (const auto& c : state_.Containers()) {
    absl::MutexLock l(&c->mu);
    ContainerRecord& r = c->record;
    if (r.state != ContainerState::kCreated && r.state != ContainerState::kRunning) continue;
    auto id = sys::IdentifyProcess(r.pid);
    if (id.ok() && id->start_time == r.start_time) continue;
    r.state = ContainerState::kExited;
    r.finished_at = RealtimeNow();
    r.exit_code = 255;
    r.reason = "Error";
    r.message = "the container's process is gone and no exit was recorded (monitor killed or node restarted)";
    (void)state_.Save(r);
    log::Warn("state", "container lost while cricketd was down", {{"id", r.id}});
  }
  for (const auto& s : state_.Sandboxes()) {
    absl::MutexLock l(&s->mu);
    SandboxRecord& r = s->record;
    if (r.state != SandboxState::kReady) continue;
    if (r.infra_pid > 0) {
      auto id = sys::IdentifyProcess(r.infra_pid);
      if (id.ok() && id->start_time == r.infra_start_time) continue;
    } else if (SandboxNamespacesHeld(r)) {
      continue;  // a pod without infra lives as long as its pins (and its run directory: same boot)
    }
    r.state = SandboxState::kNotReady;
    (void)state_.Save(r);
  }
  log::Info("state", "records loaded",
            {{"sandboxes", static_cast<int64_t>(state_.Sandboxes().size())},
             {"containers", static_cast<int64_t>(state_.Containers().size())}});
  return absl::OkStatus();
}

void CriRuntime::ApplyExit(const conmon::ExitRecord& e) {
  if (auto c = state_.GetContainer(e.id)) {
    absl::MutexLock l(&c->mu);
    ContainerRecord& r = c->record;
    if (r.state == ContainerState::kExited) return;
    r.state = ContainerState::kExited;
    r.finished_at = e.exited_at;
    r.exit_code = e.exit_code;
    r.reason = e.oom_killed ? "OOMKilled" : (e.exit_code == 0 ? "Completed" : "Error");
    if (absl::Status st = state_.Save(r); !st.ok()) log::Error("state", "cannot save exit", {{"error", st}});
    log::Debug("state", "container exited", {{"id", r.id}, {"code", e.exit_code}, {"reason", r.reason}});
    return;
  }
  if (auto s = state_.GetSandbox(e.id)) {
    absl::MutexLock l(&s->mu);
    if (s->record.state == SandboxState::kNotReady) return;
    s->record.state = SandboxState::kNotReady;
    (void)state_.Save(s->record);
    log::Info("state", "pod infra container exited", {{"id", e.id}, {"code", e.exit_code}});
  }
}

namespace {

// How often the exit loop looks for monitors that died without writing an exit file (kill -9).
constexpr int64_t kMonitorCheckIntervalNs = 5'000'000'000;

using ApplyFn = std::function<void(const conmon::ExitRecord&)>;

// A container or pod whose cricket-conmon is gone while its init still runs: no exit file will come, so
// the exit loop watches the init itself.
struct Orphan {
  bool sandbox = false;
  sys::ProcessIdentity monitor;
  sys::ProcessIdentity init;
  sys::PidFd pidfd;  // of the init: readable once it exits
};

// Records the end of an orphan's init. A sandbox becomes NotReady. A container gets the exit status if
// it can still be read (the init is not cricketd's child: only while it waits for its reaper as a
// zombie), else 255, and a message saying that the monitor was lost.
void SettleOrphan(StateStore& state, const std::string& id, const Orphan& o, const ApplyFn& apply) {
  if (o.sandbox) {
    apply(conmon::ExitRecord{.id = id, .pid = o.init.pid, .exited_at = RealtimeNow()});
    return;
  }
  auto c = state.GetContainer(id);
  if (c == nullptr) return;
  auto status = sys::ReadZombieWaitStatus(o.init);
  absl::MutexLock l(&c->mu);
  ContainerRecord& r = c->record;
  if (r.state == ContainerState::kExited) return;  // settled meanwhile (an exit file, StopContainer)
  r.state = ContainerState::kExited;
  r.finished_at = RealtimeNow();
  r.exit_code = status.ok() ? sys::ShellExitCode(*status) : 255;
  r.reason = r.exit_code == 0 && status.ok() ? "Completed" : "Error";
  r.message =
      StrCat("its monitor (cricket-conmon pid ", o.monitor.pid, ") was lost; ",
             status.ok() ? "the exit status was read from the exited process" : "the exit status is unknown");
  if (absl::Status st = state.Save(r); !st.ok()) log::Error("state", "cannot save exit", {{"error", st}});
  log::Warn("state", "container exited without its monitor", {{"id", id}, {"code", r.exit_code}});
}

// Adds to `orphans` every running container and ready pod whose monitor has died (settling at once
// those whose init is gone too).
void FindOrphans(StateStore& state, const std::string& exits_dir, const ApplyFn& apply,
                 std::map<std::string, Orphan>& orphans) {
  std::vector<std::pair<std::string, Orphan>> candidates;
  for (const auto& c : state.Containers()) {
    absl::MutexLock l(&c->mu);
    const ContainerRecord& r = c->record;
    if (!c->committed || orphans.contains(r.id) || r.monitor_pid <= 0 ||
        (r.state != ContainerState::kCreated && r.state != ContainerState::kRunning)) {
      continue;
    }
    Orphan o;
    o.monitor = {r.monitor_pid, r.monitor_start_time};
    o.init = {r.pid, r.start_time};
    candidates.emplace_back(r.id, std::move(o));
  }
  for (const auto& s : state.Sandboxes()) {
    absl::MutexLock l(&s->mu);
    const SandboxRecord& r = s->record;
    if (!s->committed || orphans.contains(r.id) || r.monitor_pid <= 0 || r.state != SandboxState::kReady) {
      continue;
    }
    Orphan o;
    o.sandbox = true;
    o.monitor = {r.monitor_pid, r.monitor_start_time};
    o.init = {r.infra_pid, r.infra_start_time};
    candidates.emplace_back(r.id, std::move(o));
  }
  for (auto& [id, o] : candidates) {
    if (conmon::IsMonitorAlive(o.monitor)) continue;
    // The monitor may have written the exit file and ended normally before its event was read.
    if (auto exit = conmon::ReadExitFile(exits_dir, id); exit.ok()) {
      apply(*exit);
      continue;
    }
    auto pidfd = sys::PidFd::OpenIdentity(o.init);
    if (!pidfd.ok() || pidfd->Exited()) {
      SettleOrphan(state, id, o, apply);
      continue;
    }
    o.pidfd = *std::move(pidfd);
    log::Warn("state", "monitor lost; watching the init", {{"id", id}, {"monitor", int64_t{o.monitor.pid}}});
    if (auto c = o.sandbox ? nullptr : state.GetContainer(id)) {
      absl::MutexLock l(&c->mu);
      c->record.message = StrCat("its monitor (cricket-conmon pid ", o.monitor.pid,
                                 ") was lost: output is no longer logged and attach is unavailable");
      (void)state.Save(c->record);
    }
    orphans.emplace(id, std::move(o));
  }
}

}  // namespace

void CriRuntime::ExitLoop() {
  ApplyFn apply = [this](const conmon::ExitRecord& e) { ApplyExit(e); };
  std::map<std::string, Orphan> orphans;  // by container or sandbox id
  int64_t next_check = 0;                 // the first check runs at once (monitors lost while down)
  for (;;) {
    std::vector<struct pollfd> fds = {{exits_->fd(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    std::vector<std::string> watched;
    for (const auto& [id, o] : orphans) {
      fds.push_back({o.pidfd.get(), POLLIN, 0});
      watched.push_back(id);
    }
    int timeout_ms = static_cast<int>(std::max<int64_t>(0, (next_check - MonotonicNow()) / 1'000'000));
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      log::Error("state", "exit monitor poll failed", {{"errno", ErrnoName(errno)}});
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents) {
      auto exits = exits_->ReadEvents();
      if (!exits.ok()) {
        log::Error("state", "reading exit files failed", {{"error", exits.status()}});
      } else {
        for (const conmon::ExitRecord& e : *exits) ApplyExit(e);
      }
    }
    for (size_t i = 0; i < watched.size(); ++i) {
      if (fds[2 + i].revents == 0) continue;
      SettleOrphan(state_, watched[i], orphans[watched[i]], apply);
      orphans.erase(watched[i]);
    }
    if (MonotonicNow() >= next_check) {
      FindOrphans(state_, config_.Get()->ExitsDir(), apply, orphans);
      next_check = MonotonicNow() + kMonitorCheckIntervalNs;
    }
  }
}

}  // namespace cricket::server
