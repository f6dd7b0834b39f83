// Start-up recovery of interrupted operations (DESIGN.md, "Process model"). Runs after the records are
// loaded and the exits read, before cricketd serves:
//  1. every pending intent (intent_kinds.h) is completed or rolled back;
//  2. what no record owns is swept: ids found in cricketd's own directories (run and record
//     directories, runtime state, namespace pins, exit files, container rootfs, live monitors) that no
//     sandbox or container record has are purged as a whole (PurgeRemains);
//  3. CNI attachments of sandboxes that do not exist are deleted (cni::Manager::GarbageCollect).
// Every step is idempotent, and the run directory of an object is removed last, so a crash during
// recovery leaves what the next start needs to finish it. Everything done is logged (component
// "recovery").
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <set>

#include "cni/result_cache.h"
#include "conmon/client.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/memory.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/runtime/cgroups/manager.h"
#include "lib/sys/mountinfo.h"
#include "lib/sys/namespace_pin.h"
#include "lib/sys/pidfd.h"
#include "lib/sys/resident.h"
#include "server/container_spec.h"
#include "server/cri_runtime.h"
#include "server/intent_kinds.h"
#include "server/monitor_settings.h"

namespace cricket::server {

// A live cricket-conmon of this daemon (its command line names this daemon's exits directory).
struct MonitorProcess {
  sys::ProcessIdentity identity;
  pid_t pgid = 0;
};

namespace {

constexpr char kComponent[] = "recovery";
constexpr int kMonitorExitTimeoutMs = 5000;
constexpr size_t kIdLength = 64;
const sys::NamespaceType kPinTypes[] = {sys::NamespaceType::kNet, sys::NamespaceType::kIpc,
                                        sys::NamespaceType::kUts, sys::NamespaceType::kUser};

bool IsHexId(std::string_view s) {
  if (s.size() != kIdLength) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The object id a file or directory name starts with ("" when it does not start with one).
std::string OwnerId(std::string_view name) {
  return name.size() >= kIdLength && IsHexId(name.substr(0, kIdLength))
             ? std::string(name.substr(0, kIdLength))
             : "";
}

std::vector<std::string> Entries(const std::string& dir) {
  return ListDir(dir).value_or(std::vector<std::string>{});
}

// /proc/<pid>/cmdline as arguments.
std::vector<std::string> Cmdline(pid_t pid) {
  std::string raw = ReadFile(StrCat("/proc/", pid, "/cmdline"), 1 << 20).value_or("");
  std::vector<std::string> args;
  for (std::string_view a : Split(raw, '\0')) {
    if (!a.empty()) args.emplace_back(a);
  }
  return args;
}

// Every cricket-conmon whose command line names `exits_dir`, by the id it monitors.
MonitorMap FindMonitors(const std::string& exits_dir) {
  MonitorMap out;
  const std::string exits_arg = StrCat("--exits-dir=", exits_dir);
  for (const std::string& e : Entries("/proc")) {
    auto pid = ParseInt64(e);
    if (!pid || *pid <= 0) continue;
    std::string comm(TrimSpace(ReadFile(StrCat("/proc/", *pid, "/comm")).value_or("")));
    if (comm != "cricket-conmon") continue;
    std::vector<std::string> args = Cmdline(static_cast<pid_t>(*pid));
    bool ours = false;
    std::string id;
    for (const std::string& a : args) {
      ours = ours || a == exits_arg;
      if (a.starts_with("--id=")) id = a.substr(5);
    }
    if (!ours || id.empty()) continue;
    auto identity = sys::IdentifyProcess(static_cast<pid_t>(*pid));
    if (!identity.ok()) continue;
    std::string stat = ReadFile(StrCat("/proc/", *pid, "/stat")).value_or("");
    pid_t pgid = 0;
    if (size_t close = stat.rfind(')'); close != std::string::npos) {
      std::vector<std::string_view> f = Split(std::string_view(stat).substr(close + 2), ' ');
      if (f.size() > 2) pgid = static_cast<pid_t>(ParseInt64(f[2]).value_or(0));
    }
    out[id].push_back({*identity, pgid});
  }
  return out;
}

// SIGKILL to a monitor and to its process group (the create helper it may still run), then waits until
// they are gone: a monitor that outlived the kill would write an exit file after it was removed.
absl::Status KillMonitor(const MonitorProcess& m) {
  auto fd = sys::PidFd::OpenIdentity(m.identity);
  if (!fd.ok()) return absl::OkStatus();  // gone already
  if (m.pgid == m.identity.pid) ::kill(-m.pgid, SIGKILL);
  (void)fd->Signal(SIGKILL);
  ASSIGN_OR_RETURN(bool exited, fd->WaitExited(kMonitorExitTimeoutMs));
  if (!exited) return absl::DeadlineExceededError(StrCat("monitor pid ", m.identity.pid, " did not exit"));
  for (int i = 0; m.pgid == m.identity.pid && i < kMonitorExitTimeoutMs / 10; ++i) {
    if (::kill(-m.pgid, 0) != 0 && errno == ESRCH) break;
    ::kill(-m.pgid, SIGKILL);
    ::usleep(10'000);
  }
  return absl::OkStatus();
}

// Copies of the previous cricketd that have not exec'd yet (forked when it was killed: a monitor before
// its execve, an exec helper): the same executable and command line as this process. They are given a
// moment to exec or end, then killed: the sweep must not race a monitor that is still coming up.
void SettleStragglers() {
  char self_exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", self_exe, sizeof(self_exe));
  if (n <= 0) return;
  const std::string exe(self_exe, static_cast<size_t>(n));
  const std::vector<std::string> cmdline = Cmdline(::getpid());
  auto find = [&] {
    std::vector<sys::ProcessIdentity> out;
    for (const std::string& e : Entries("/proc")) {
      auto pid = ParseInt64(e);
      if (!pid || *pid <= 0 || *pid == ::getpid()) continue;
      char buf[4096];
      ssize_t len = ::readlink(StrCat("/proc/", *pid, "/exe").c_str(), buf, sizeof(buf));
      if (len <= 0 || std::string_view(buf, static_cast<size_t>(len)) != exe) continue;
      if (Cmdline(static_cast<pid_t>(*pid)) != cmdline) continue;
      if (auto id = sys::IdentifyProcess(static_cast<pid_t>(*pid)); id.ok()) out.push_back(*id);
    }
    return out;
  };
  std::vector<sys::ProcessIdentity> left = find();
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    ::usleep(10'000);
    left = find();
  }
  for (const sys::ProcessIdentity& p : left) {
    log::Warn(kComponent, "killing a leftover copy of the previous cricketd", {{"pid", int64_t{p.pid}}});
    if (auto fd = sys::PidFd::OpenIdentity(p); fd.ok()) {
      (void)fd->Signal(SIGKILL);
      (void)fd->WaitExited(kMonitorExitTimeoutMs);
    }
  }
}

absl::Status Collect(absl::Status first, const absl::Status& next) {
  if (first.ok()) return next;
  if (next.ok()) return first;
  return absl::Status(first.code(), StrCat(first.message(), "; ", next.message()));
}

}  // namespace

absl::Status CriRuntime::PurgeRemains(const std::string& id, const std::vector<std::string>& cgroup_parents,
                                      const MonitorMap& monitors, std::vector<std::string>* removed) {
  auto cfg = config_.Get();
  absl::Status status;
  // Processes first: nothing may recreate what the steps below remove. The container (its init and
  // cgroup) goes while its monitor still runs, so that the monitor reaps it (an orphaned init would wait
  // for the host's pid 1, which may reap late); then the monitors; then once more whatever runtime state
  // a monitor still creating its container made meanwhile.
  auto delete_runtime_state = [&](bool final_pass) {
    for (const auto& [name, rt] : runtimes_) {
      std::string dir = JoinPath(rt->options().root, id);
      if (!PathExists(dir)) continue;
      absl::Status st = rt->Delete(id, /*force=*/true);
      if (!st.ok() && !final_pass) continue;          // tried again once the monitors are gone
      if (absl::IsNotFound(st)) st = RemoveAll(dir);  // created, never recorded
      if (st.ok()) removed->push_back(StrCat("runtime state (", name, ")"));
      status = Collect(status, st);
    }
  };
  delete_runtime_state(/*final_pass=*/false);
  if (auto it = monitors.find(id); it != monitors.end()) {
    for (const MonitorProcess& m : it->second) {
      absl::Status st = KillMonitor(m);
      if (st.ok()) removed->push_back(StrCat("monitor pid ", m.identity.pid));
      status = Collect(status, st);
    }
  }
  delete_runtime_state(/*final_pass=*/true);
  if (host_.cgroup_layout) {
    auto driver = cgroups::ParseDriver(cfg->runtime.cgroup_manager);
    for (const std::string& parent : cgroup_parents) {
      if (!driver.ok()) break;
      auto where =
          cgroups::ParseCgroupsPath(*driver, CgroupsPath(cfg->runtime.cgroup_manager, parent, id), id);
      if (!where.ok()) continue;
      auto cg = cgroups::Manager::Open(*host_.cgroup_layout, *where);
      if (!cg.ok()) continue;
      bool any = false;
      for (const cgroups::CgroupDir& d : cg->dirs()) any = any || PathExists(d.dir);
      if (!any) continue;
      (void)cg->KillAll(SIGKILL);
      absl::Status st = cg->Destroy();
      if (st.ok()) removed->push_back(StrCat("cgroup ", where->path));
      status = Collect(status, st);
    }
    // The monitor's own cgroup (conmon_cgroup = "pod": cricket-conmon-<id> beside the container's),
    // whatever the setting is now: it may have changed since the container was created.
    for (const std::string& parent : cgroup_parents) {
      auto where = MonitorCgroupPath("pod", cfg->runtime.cgroup_manager, parent, id);
      if (!where.ok() || !where->has_value()) continue;
      auto cg = cgroups::Manager::Open(*host_.cgroup_layout, **where);
      if (!cg.ok()) continue;
      bool any = false;
      for (const cgroups::CgroupDir& d : cg->dirs()) any = any || PathExists(d.dir);
      if (!any) continue;
      (void)cg->KillAll(SIGKILL);
      absl::Status st = cg->Destroy();
      if (st.ok()) removed->push_back(StrCat("monitor cgroup ", (*where)->path));
      status = Collect(status, st);
    }
  }
  cni::ResultCache cache(JoinPath(cfg->root.root, "cni/results"));
  if (auto entries = cache.Find(id, "eth0"); entries.ok() && !entries->empty()) {
    cni::PodNetwork net;
    net.sandbox_id = id;
    net.netns_path = sys::PinPath(cfg->NamespacesDir(), sys::NamespaceType::kNet, id);
    // A plugin killed half-way through its ADD can make the first DEL fail on what it never made (the
    // bridge plugin's ipMasq rule without its chain); what that DEL did remove lets a repeat succeed.
    absl::Status st = cni_->Teardown(net);
    for (int attempt = 1; attempt < 3 && !st.ok(); ++attempt) st = cni_->Teardown(net);
    if (st.ok()) removed->push_back("CNI attachment");
    status = Collect(status, st);
  }
  for (sys::NamespaceType t : kPinTypes) {
    std::string pin = sys::PinPath(cfg->NamespacesDir(), t, id);
    struct stat st_buf;
    if (::lstat(pin.c_str(), &st_buf) != 0) continue;
    absl::Status st = sys::UnpinNamespace(pin);
    if (st.ok()) removed->push_back(StrCat(sys::NamespaceTypeName(t), " namespace pin"));
    status = Collect(status, st);
  }
  const std::string pod_run = JoinPath(cfg->root.runroot, "pods/" + id);
  const std::string bundle = ContainerRunDir(id);
  for (const std::string& dir : {pod_run, bundle}) {
    auto mounts = sys::MountsUnder(dir);
    if (!mounts.ok()) continue;
    for (const std::string& m : *mounts) {
      if (::umount2(m.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        status = Collect(status, ErrnoError("unmount", m));
      } else {
        removed->push_back(StrCat("mount ", m));
      }
    }
  }
  if (auto rootfs = store_->GetContainerRootfs(id); rootfs.ok()) {
    absl::Status st = store_->RemoveContainerRootfs(id);
    if (st.ok()) removed->push_back("container rootfs");
    status = Collect(status, st);
  }
  const std::string files[] = {JoinPath(cfg->ExitsDir(), id),
                               SocketBase(id) + ".attach",
                               SocketBase(id) + ".ctl",
                               JoinPath(cfg->root.root, "pods/" + id),
                               JoinPath(cfg->root.root, "containers/" + id),
                               bundle};
  for (const std::string& f : files) {
    struct stat st_buf;
    if (::lstat(f.c_str(), &st_buf) != 0) continue;
    absl::Status st = RemoveAll(f);
    if (st.ok()) removed->push_back(f);
    status = Collect(status, st);
  }
  // The temporary exit file of a monitor killed while writing it (the monitors of `id` are gone).
  for (const std::string& e : Entries(cfg->ExitsDir())) {
    if (!e.starts_with(StrCat(".", id, ".tmp-"))) continue;
    absl::Status st = RemoveAll(JoinPath(cfg->ExitsDir(), e));
    if (st.ok()) removed->push_back(JoinPath(cfg->ExitsDir(), e));
    status = Collect(status, st);
  }
  // Last: while it exists, the next start finds this id again.
  if (status.ok() && PathExists(pod_run)) {
    status = RemoveAll(pod_run);
    if (status.ok()) removed->push_back(pod_run);
  }
  return status;
}

absl::Status CriRuntime::ResolveIntent(const intent::Record& r, const MonitorMap& monitors,
                                       std::string* outcome) {
  std::vector<std::string> removed;
  auto purge = [&](const std::string& parent) -> absl::Status {
    RETURN_IF_ERROR(PurgeRemains(r.object, {parent}, monitors, &removed));
    *outcome = removed.empty() ? "rolled back (nothing had been made yet)"
                               : StrCat("rolled back: removed ", Join(removed, ", "));
    return absl::OkStatus();
  };
  std::string record = r.data.is_object() && r.data.contains("record") && r.data["record"].is_string()
                           ? r.data["record"].get<std::string>()
                           : "";
  if (r.kind == kIntentRunPodSandbox || r.kind == kIntentRemovePodSandbox) {
    auto planned = SandboxFromJson(record, r.file);
    std::string parent = planned.ok() ? planned->cgroup_parent : "";
    if (state_.GetSandbox(r.object) == nullptr) return purge(parent);
    if (r.kind == kIntentRunPodSandbox) {
      *outcome = "completed (the sandbox was recorded)";
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(RemovePodSandbox(r.object));
    *outcome = "completed: the sandbox was removed";
    return absl::OkStatus();
  }
  if (r.kind == kIntentCreateContainer || r.kind == kIntentRemoveContainer) {
    std::string parent = r.data.value("cgroup_parent", "");
    if (state_.GetContainer(r.object) == nullptr) return purge(parent);
    if (r.kind == kIntentCreateContainer) {
      *outcome = "completed (the container was recorded)";
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(RemoveContainer(r.object));
    *outcome = "completed: the container was removed";
    return absl::OkStatus();
  }
  if (r.kind == kIntentStopPodSandbox) {
    auto sandbox = state_.GetSandbox(r.object);
    if (sandbox == nullptr) {
      *outcome = "nothing to do (the sandbox is gone)";
      return absl::OkStatus();
    }
    absl::MutexLock op(&sandbox->op_mu);
    RETURN_IF_ERROR(StopSandboxLocked(*sandbox));
    *outcome = "completed: the sandbox is stopped";
    return absl::OkStatus();
  }
  if (r.kind == kIntentStartContainer) {
    auto container = state_.GetContainer(r.object);
    if (container == nullptr) {
      *outcome = "nothing to do (the container is gone)";
      return absl::OkStatus();
    }
    ContainerRecord c = container->Snapshot();
    ASSIGN_OR_RETURN(runtime::Runtime * rt, RuntimeFor(c.runtime_handler));
    auto state = rt->State(c.id);
    bool released = state.ok() && state->status == oci::ContainerStatus::kRunning;
    absl::MutexLock l(&container->mu);
    ContainerRecord& rec = container->record;
    if (rec.started_at == 0 && (released || rec.state == ContainerState::kExited)) rec.started_at = r.started;
    if (rec.state == ContainerState::kCreated && released) {
      rec.state = ContainerState::kRunning;
      *outcome = "completed: the container had been released and is running";
    } else {
      *outcome = StrCat("nothing to undo: the container is ", ContainerStateName(rec.state));
    }
    return state_.Save(rec);
  }
  *outcome = StrCat("unknown intent kind \"", r.kind, "\" (from another version?); dropped");
  return absl::OkStatus();
}

void CriRuntime::SweepOrphans(const MonitorMap& monitors) {
  auto cfg = config_.Get();
  std::set<std::string> known;
  std::set<std::string> parents = {""};
  for (const auto& s : state_.Sandboxes()) {
    SandboxRecord r = s->Snapshot();
    known.insert(r.id);
    parents.insert(r.cgroup_parent);
  }
  // A container whose sandbox is unknown (its record damaged and set aside) goes with it.
  for (const auto& c : state_.Containers()) {
    ContainerRecord r = c->Snapshot();
    if (known.contains(r.sandbox_id)) {
      known.insert(r.id);
      continue;
    }
    log::Warn(kComponent, "container of an unknown sandbox: removing it",
              {{"id", r.id}, {"sandbox", r.sandbox_id}});
    state_.RemoveContainer(r.id);
  }
  // Every id cricketd's own directories name.
  std::set<std::string> found;
  auto add_dir = [&](const std::string& dir) {
    for (const std::string& e : Entries(dir)) {
      if (IsHexId(e)) found.insert(e);
    }
  };
  add_dir(JoinPath(cfg->root.runroot, "pods"));
  add_dir(JoinPath(cfg->root.runroot, "containers"));
  add_dir(JoinPath(cfg->root.root, "pods"));
  add_dir(JoinPath(cfg->root.root, "containers"));
  add_dir(cfg->ExitsDir());
  for (const auto& [name, rt] : runtimes_) add_dir(rt->options().root);
  for (sys::NamespaceType t : kPinTypes) {
    std::string dir = DirName(sys::PinPath(cfg->NamespacesDir(), t, "x"));
    for (const std::string& e : Entries(dir)) {
      if (std::string owner = OwnerId(e); !owner.empty()) found.insert(owner);
    }
  }
  if (auto rootfs = store_->ListContainerRootfs(); rootfs.ok()) {
    for (const storage::ContainerRootfs& r : *rootfs) found.insert(r.id);
  }
  for (const auto& [id, procs] : monitors) found.insert(id);
  int swept = 0;
  for (const std::string& id : found) {
    if (known.contains(id)) continue;
    std::vector<std::string> removed;
    absl::Status st =
        PurgeRemains(id, std::vector<std::string>(parents.begin(), parents.end()), monitors, &removed);
    ++swept;
    if (st.ok()) {
      log::Info(kComponent, "swept what no record owns", {{"id", id}, {"removed", Join(removed, ", ")}});
    } else {
      log::Warn(kComponent, "sweep incomplete; retried at the next start",
                {{"id", id}, {"removed", Join(removed, ", ")}, {"error", st}});
    }
  }
  // Temporary files of atomic writes that were killed (never complete, never read).
  for (const std::string& dir : {JoinPath(cfg->root.root, "pods"), JoinPath(cfg->root.root, "containers"),
                                 JoinPath(cfg->root.root, "cni/results")}) {
    for (const std::string& e : Entries(dir)) {
      if (e.starts_with(".") && e.find(".tmp-") != std::string::npos && RemoveAll(JoinPath(dir, e)).ok()) {
        log::Info(kComponent, "removed the temporary file of an interrupted write",
                  {{"file", JoinPath(dir, e)}});
      }
    }
  }
  // Monitor sockets are named by a 32-character id prefix.
  for (const std::string& e : Entries(cfg->AttachSocketDir())) {
    std::string prefix = e.substr(0, e.find('.'));
    bool owned = false;
    for (const std::string& id : known) owned = owned || id.starts_with(prefix);
    if (owned) continue;
    if (RemoveAll(JoinPath(cfg->AttachSocketDir(), e)).ok()) {
      log::Info(kComponent, "removed a monitor socket no record owns", {{"socket", e}});
    }
  }
  if (swept > 0) log::Info(kComponent, "orphan sweep done", {{"objects", swept}});
}

void CriRuntime::RecoverOperations() {
  auto cfg = config_.Get();
  int64_t t0 = MonotonicNow();
  SettleStragglers();
  MonitorMap monitors = FindMonitors(cfg->ExitsDir());
  std::vector<std::string> problems;
  auto pending = intents_->Pending(&problems);
  for (const std::string& p : problems)
    log::Error(kComponent, "damaged intent record set aside", {{"problem", p}});
  if (!pending.ok()) {
    log::Error(kComponent, "cannot read the intents", {{"error", pending.status()}});
    pending = std::vector<intent::Record>();
  }
  for (const intent::Record& r : *pending) {
    std::string outcome;
    absl::Status st = ResolveIntent(r, monitors, &outcome);
    if (!st.ok()) {
      log::Warn(kComponent, "interrupted operation not resolved; retried at the next start",
                {{"operation", r.kind}, {"id", r.object}, {"error", st}});
      continue;
    }
    log::Info(kComponent, "interrupted operation resolved",
              {{"operation", r.kind}, {"id", r.object}, {"outcome", outcome}});
    if (absl::Status rs = intents_->Resolve(r); !rs.ok()) {
      log::Warn(kComponent, "cannot remove intent record", {{"error", rs}});
    }
  }
  SweepOrphans(monitors);
  absl::flat_hash_set<std::string> attached;
  for (const auto& s : state_.Sandboxes()) {
    absl::MutexLock l(&s->mu);
    if (s->record.network_attached) attached.insert(s->record.id);
  }
  if (absl::Status st = cni_->GarbageCollect(attached); !st.ok()) {
    log::Warn("cni", "garbage collection of stale attachments failed", {{"error", st}});
  }
  log::Info(kComponent, "start-up recovery done",
            {{"intents", static_cast<int64_t>(pending->size())}, {"ms", (MonotonicNow() - t0) / 1'000'000}});
}

namespace {
constexpr absl::Duration kJanitorInterval = absl::Seconds(2);
constexpr int64_t kIdleTrimDelayNs = 5'000'000'000;

// What kubelet calls all the time (PLEG relists every second, stats every few): not a rare path.
bool IsSteadyStateRpc(std::string_view method) {
  std::string_view name = method.substr(method.rfind('/') + 1);
  return name.starts_with("List") || name.ends_with("Status") || name.ends_with("Stats") ||
         name == "Version" || name == "ImageFsInfo" || name == "GetContainerEvents";
}
}  // namespace

void CriRuntime::NoteRpcDone(std::string_view method) {
  if (IsSteadyStateRpc(method)) return;
  absl::MutexLock l(&janitor_mu_);
  trim_at_ = MonotonicNow() + kIdleTrimDelayNs;
}

void CriRuntime::FinishRollback(intent::Intent intent, const std::string& id,
                                const std::string& cgroup_parent) {
  MonitorMap all = FindMonitors(config_.Get()->ExitsDir());
  MonitorMap monitors;
  if (auto it = all.find(id); it != all.end()) monitors[id] = it->second;
  std::vector<std::string> removed;
  absl::Status st = PurgeRemains(id, {cgroup_parent}, monitors, &removed);
  if (!removed.empty()) {
    log::Warn(kComponent, "a failed operation's undo had left things; removed",
              {{"operation", intent.record().kind}, {"id", id}, {"removed", Join(removed, ", ")}});
  }
  if (st.ok()) return;  // the intent is resolved as it goes
  log::Warn(kComponent, "a failed operation could not be undone yet; retrying in the background",
            {{"operation", intent.record().kind}, {"id", id}, {"error", st}});
  intent::Record record = intent.record();
  record.file = intent.file();
  intent.Keep();
  absl::MutexLock l(&janitor_mu_);
  rollbacks_.push_back({std::move(record), cgroup_parent});
}

void CriRuntime::JanitorLoop() {
  absl::MutexLock l(&janitor_mu_);
  while (!stopping_) {
    janitor_cv_.WaitWithTimeout(&janitor_mu_, kJanitorInterval);
    if (!stopping_ && trim_at_ != 0 && MonotonicNow() >= trim_at_) {
      trim_at_ = 0;
      // Outside the lock: every finished RPC takes it (NoteRpcDone), and walking the mappings is not free.
      janitor_mu_.Unlock();
      sys::DropStartupPages(/*shared_libraries=*/true);
      ReturnFreeMemory();
      janitor_mu_.Lock();
    }
    if (stopping_ || rollbacks_.empty()) continue;
    std::vector<Rollback> pending = std::move(rollbacks_);
    rollbacks_.clear();
    janitor_mu_.Unlock();
    MonitorMap monitors = FindMonitors(config_.Get()->ExitsDir());
    std::vector<Rollback> again;
    for (Rollback& r : pending) {
      std::vector<std::string> removed;
      absl::Status st = PurgeRemains(r.record.object, {r.cgroup_parent}, monitors, &removed);
      if (!st.ok()) {
        again.push_back(std::move(r));
        continue;
      }
      (void)intents_->Resolve(r.record);
      log::Info(kComponent, "a failed operation is undone",
                {{"operation", r.record.kind}, {"id", r.record.object}, {"removed", Join(removed, ", ")}});
    }
    janitor_mu_.Lock();
    rollbacks_.insert(rollbacks_.end(), std::make_move_iterator(again.begin()),
                      std::make_move_iterator(again.end()));
  }
}

}  // namespace cricket::server
