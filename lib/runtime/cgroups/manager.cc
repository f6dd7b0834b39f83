#include "lib/runtime/cgroups/manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <functional>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/cgroups/cgroup_fs.h"

namespace cricket::cgroups {
namespace {

constexpr std::string_view kLog = "cgroups";

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// `mount_point`, then each directory below it down to `dir` (which must be at or below it).
std::vector<std::string> Chain(const std::string& mount_point, const std::string& dir) {
  std::vector<std::string> chain{mount_point};
  if (dir.size() <= mount_point.size()) return chain;
  std::string cur = mount_point;
  for (std::string_view part : Split(std::string_view(dir).substr(mount_point.size()), '/')) {
    if (part.empty()) continue;
    StrAppend(&cur, "/", part);
    chain.push_back(cur);
  }
  return chain;
}

// Polls `settled` until it returns true or `timeout` passes; `nudge` runs now and then while waiting.
absl::StatusOr<bool> PollUntil(absl::Duration timeout, const std::function<absl::StatusOr<bool>()>& settled,
                               const std::function<absl::Status()>& nudge) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration sleep = absl::Microseconds(200);
  absl::Time next_nudge = absl::Now() + absl::Milliseconds(50);
  for (;;) {
    ASSIGN_OR_RETURN(bool done, settled());
    if (done) return true;
    if (absl::Now() >= deadline) return false;
    if (nudge && absl::Now() >= next_nudge) {
      RETURN_IF_ERROR(nudge());
      next_nudge = absl::Now() + absl::Milliseconds(50);
    }
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(sleep));
    sleep = std::min(sleep * 2, absl::Milliseconds(10));
  }
}

absl::Status CollectPids(const std::string& dir, std::vector<pid_t>* out) {
  ASSIGN_OR_RETURN(std::string procs, ReadCgroupFile(dir, "cgroup.procs"));
  ASSIGN_OR_RETURN(std::vector<int> pids, ParsePidList(procs, dir + "/cgroup.procs"));
  out->insert(out->end(), pids.begin(), pids.end());
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& n : names) {
    std::string child = StrCat(dir, "/", n);
    if (IsDir(child)) RETURN_IF_ERROR(CollectPids(child, out));
  }
  return absl::OkStatus();
}

absl::Status RmdirRetrying(const std::string& dir, absl::Time deadline) {
  absl::Duration sleep = absl::Milliseconds(5);
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
    int err = errno;
    if (err != EBUSY || absl::Now() >= deadline) {
      absl::Status st = ErrnoError(err, "remove cgroup", dir);
      if (err != EBUSY) return st;
      std::vector<pid_t> left;
      if (CollectPids(dir, &left).ok()) {
        return absl::Status(st.code(), StrCat(st.message(), "; ", left.size(), " processes still in it"));
      }
      return st;
    }
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(sleep));
    sleep = std::min(sleep * 2, absl::Milliseconds(100));
  }
}

absl::Status RemoveTree(const std::string& dir, absl::Time deadline) {
  if (!IsDir(dir)) return absl::OkStatus();
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (absl::IsNotFound(names.status())) return absl::OkStatus();
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    std::string child = StrCat(dir, "/", n);
    if (IsDir(child)) RETURN_IF_ERROR(RemoveTree(child, deadline));
  }
  return RmdirRetrying(dir, deadline);
}

// The directory of the unified hierarchy `h` that holds `pid` (its "0::" line in /proc/PID/cgroup).
absl::StatusOr<std::string> V2CgroupOf(const Hierarchy& h, pid_t pid) {
  std::string file = StrCat("/proc/", pid, "/cgroup");
  ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> entries, ParseProcCgroup(text));
  for (const ProcCgroupEntry& e : entries) {
    if (e.hierarchy_id != 0) continue;
    std::string_view rel = e.path;
    if (h.mount_root != "/") {
      if (rel != h.mount_root && !rel.starts_with(h.mount_root + "/")) break;
      rel.remove_prefix(h.mount_root.size());
    }
    return JoinPath(h.mount_point, rel);
  }
  return absl::NotFoundError(StrCat(file, " names no cgroup of the unified hierarchy ", h.mount_point));
}

}  // namespace

std::string_view FreezerStateName(FreezerState state) {
  switch (state) {
    case FreezerState::kThawed:
      return "THAWED";
    case FreezerState::kFreezing:
      return "FREEZING";
    case FreezerState::kFrozen:
      return "FROZEN";
  }
  return "UNKNOWN";
}

absl::Status PropagateCpusetV1(const std::string& mount_point, const std::string& dir) {
  std::vector<std::string> chain = Chain(mount_point, dir);
  for (size_t i = 1; i < chain.size(); ++i) {
    for (std::string_view file : {"cpuset.cpus", "cpuset.mems"}) {
      ASSIGN_OR_RETURN(std::string value, ReadCgroupValue(chain[i], file));
      if (!value.empty()) continue;
      ASSIGN_OR_RETURN(std::string parent, ReadCgroupValue(chain[i - 1], file));
      RETURN_IF_ERROR(WriteCgroupFile(chain[i], file, parent));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> EnableControllersV2(const std::string& mount_point,
                                                             const std::string& dir) {
  std::vector<std::string> refused;
  std::vector<std::string> chain = Chain(mount_point, dir);
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    const std::string& c = chain[i];
    ASSIGN_OR_RETURN(std::string available_text, ReadCgroupFile(c, "cgroup.controllers"));
    ASSIGN_OR_RETURN(std::string enabled_text, ReadCgroupFile(c, "cgroup.subtree_control"));
    std::vector<std::string> enabled = ParseControllerList(enabled_text);
    std::vector<std::string> missing;
    for (const std::string& ctl : ParseControllerList(available_text)) {
      if (std::find(enabled.begin(), enabled.end(), ctl) == enabled.end()) missing.push_back(ctl);
    }
    if (missing.empty()) continue;
    std::vector<std::string> plus;
    for (const std::string& m : missing) plus.push_back("+" + m);
    if (WriteCgroupFile(c, "cgroup.subtree_control", Join(plus, " ")).ok()) continue;
    // One refused controller (e.g. cpuset with processes in a threaded subtree) refuses the whole
    // line; enable the others one by one.
    for (const std::string& m : missing) {
      absl::Status st = WriteCgroupFile(c, "cgroup.subtree_control", "+" + m);
      if (!st.ok()) {
        refused.push_back(m);
        log::Debug(kLog, "cannot enable cgroup v2 controller",
                   {{"controller", m}, {"cgroup", c}, {"error", st}});
      }
    }
  }
  return refused;
}

absl::StatusOr<Manager> Manager::Open(const Layout& layout, const CgroupPath& path, ManagerOptions options) {
  std::vector<std::string_view> parts = Split(path.path, '/');
  if (path.path.empty() || path.path == "/" || path.path == "." ||
      std::find(parts.begin(), parts.end(), "..") != parts.end()) {
    return absl::InvalidArgumentError(
        StrCat("cgroup path \"", path.path, "\" cannot name a container cgroup"));
  }
  Manager m;
  m.mode_ = layout.mode();
  m.path_ = path;
  m.options_ = options;
  for (const Hierarchy& h : layout.hierarchies()) {
    if (h.version == 1) m.dirs_.push_back(CgroupDir{h, DirIn(h, path)});
  }
  if (const Hierarchy* u = layout.unified()) m.dirs_.push_back(CgroupDir{*u, DirIn(*u, path)});
  for (const CgroupDir& d : m.dirs_) {
    if (d.dir == d.hierarchy.mount_point) {
      return absl::InvalidArgumentError(
          StrCat("cgroup path \"", path.path, "\" resolves to the root of ", d.hierarchy.mount_point));
    }
  }
  return m;
}

std::string Manager::DirFor(std::string_view controller) const {
  const CgroupDir* d = FindDir(dirs_, controller);
  return d ? d->dir : "";
}

bool Manager::Exists() const {
  return std::all_of(dirs_.begin(), dirs_.end(), [](const CgroupDir& d) { return IsDir(d.dir); });
}

absl::Status Manager::CreateOne(const CgroupDir& d, std::vector<std::string>* created) const {
  std::vector<std::string> chain = Chain(d.hierarchy.mount_point, d.dir);
  for (size_t i = 1; i < chain.size(); ++i) {
    if (::mkdir(chain[i].c_str(), 0755) == 0) {
      created->push_back(chain[i]);
    } else if (errno != EEXIST) {
      return ErrnoError("create cgroup", chain[i]);
    }
  }
  if (d.hierarchy.version == 1) {
    if (d.hierarchy.Has("cpuset")) RETURN_IF_ERROR(PropagateCpusetV1(d.hierarchy.mount_point, d.dir));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> refused, EnableControllersV2(d.hierarchy.mount_point, d.dir));
  if (!refused.empty()) {
    log::Info(kLog, "cgroup v2 controllers left disabled",
              {{"cgroup", d.dir}, {"controllers", cricket::Join(refused, ",")}});
  }
  return absl::OkStatus();
}

absl::Status Manager::Create() const {
  std::vector<std::string> created;
  for (const CgroupDir& d : dirs_) {
    absl::Status st = CreateOne(d, &created);
    if (st.ok()) continue;
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    return Annotate(st, StrCat("create cgroup ", path_.path, " in the ", d.hierarchy.Label(), " hierarchy"));
  }
  return absl::OkStatus();
}

namespace {

// CLONE_INTO_CGROUP is in Linux 5.7 and later (read once per process).
bool KernelHasCloneIntoCgroup() {
  static const bool has = [] {
    struct utsname u {};
    int major = 0, minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 7);
  }();
  return has;
}

}  // namespace

Manager::SelfJoin Manager::OpenSelfJoin() const {
  SelfJoin self;
  bool all_v1 = true;
  for (const CgroupDir& d : dirs_) {
    if (d.hierarchy.version == 2) {
      if (KernelHasCloneIntoCgroup())
        self.v2_dir.reset(::open(d.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      continue;
    }
    UniqueFd fd(::open(JoinPath(d.dir, "tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (fd) {
      self.v1_tasks.push_back(std::move(fd));
    } else {
      all_v1 = false;
    }
  }
  if (!all_v1) self.v1_tasks.clear();
  return self;
}

absl::Status Manager::Join(pid_t pid, const SelfJoin& self) const {
  if (pid <= 0) return absl::InvalidArgumentError(StrCat("join cgroup: bad pid ", pid));
  for (const CgroupDir& d : dirs_) {
    bool joined = d.hierarchy.version == 1 ? !self.v1_tasks.empty() : self.v2_dir.valid();
    if (!joined) RETURN_IF_ERROR(WriteCgroupFile(d.dir, "cgroup.procs", StrCat(pid)));
  }
  return absl::OkStatus();
}

absl::Status Manager::JoinBeside(pid_t pid, pid_t init_pid) const {
  if (pid <= 0) return absl::InvalidArgumentError(StrCat("join cgroup: bad pid ", pid));
  for (const CgroupDir& d : dirs_) {
    absl::Status st = WriteCgroupFile(d.dir, "cgroup.procs", StrCat(pid));
    if (st.ok() || d.hierarchy.version != 2 || !absl::IsFailedPrecondition(st)) {
      RETURN_IF_ERROR(st);
      continue;
    }
    ASSIGN_OR_RETURN(std::string dir, V2CgroupOf(d.hierarchy, init_pid));
    if (dir != d.dir && !dir.starts_with(d.dir + "/")) {
      return Annotate(st, StrCat("the container's init is in ", dir, ", outside it"));
    }
    RETURN_IF_ERROR(Annotate(WriteCgroupFile(dir, "cgroup.procs", StrCat(pid)), "join the init's cgroup"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ResourcePlan> Manager::Plan(const oci::LinuxResources& resources, bool update) const {
  return PlanResources(dirs_, resources, PlanOptions{update});
}

absl::Status Manager::Set(const oci::LinuxResources& resources) const {
  ASSIGN_OR_RETURN(ResourcePlan plan, Plan(resources, false));
  BpfDeviceFilterInstaller bpf;
  return ApplyPlan(plan, options_.device_filter ? *options_.device_filter : bpf);
}

absl::Status Manager::Update(const oci::LinuxResources& resources) const {
  ASSIGN_OR_RETURN(ResourcePlan plan, Plan(resources, true));
  BpfDeviceFilterInstaller bpf;
  return ApplyPlan(plan, options_.device_filter ? *options_.device_filter : bpf);
}

const CgroupDir* Manager::Freezer() const {
  const CgroupDir* d = FindDir(dirs_, "freezer");
  if (d != nullptr && d->hierarchy.version == 1) return d;
  return FindUnified(dirs_);
}

absl::Status Manager::SetFrozen(bool frozen) const {
  const CgroupDir* d = Freezer();
  if (d == nullptr || (d->hierarchy.version == 2 && !CgroupFileExists(d->dir, "cgroup.freeze"))) {
    return absl::FailedPreconditionError(
        StrCat("cannot ", frozen ? "freeze" : "thaw", " ", path_.path,
               ": no freezer (neither the v1 freezer controller nor cgroup v2's cgroup.freeze)"));
  }
  std::function<absl::Status()> write;
  std::function<absl::StatusOr<bool>()> settled;
  if (d->hierarchy.version == 1) {
    std::string want = frozen ? "FROZEN" : "THAWED";
    write = [d, want] { return WriteCgroupFile(d->dir, "freezer.state", want); };
    settled = [d, want]() -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(std::string state, ReadCgroupValue(d->dir, "freezer.state"));
      return state == want;
    };
  } else {
    write = [d, frozen] { return WriteCgroupFile(d->dir, "cgroup.freeze", frozen ? "1" : "0"); };
    settled = [d, frozen]() -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(std::string events, ReadCgroupFile(d->dir, "cgroup.events"));
      auto m = ParseFlatKeyed(events);
      return m.count("frozen") && (m["frozen"] == 1) == frozen;
    };
  }
  RETURN_IF_ERROR(write());
  // v1 freezing can stall on a task in an uninterruptible sleep; writing FROZEN again retries it.
  ASSIGN_OR_RETURN(bool done,
                   PollUntil(options_.freeze_timeout, settled, d->hierarchy.version == 1 ? write : nullptr));
  if (done) return absl::OkStatus();
  if (frozen) {
    (void)(d->hierarchy.version == 1 ? WriteCgroupFile(d->dir, "freezer.state", "THAWED")
                                     : WriteCgroupFile(d->dir, "cgroup.freeze", "0"));
  }
  return absl::DeadlineExceededError(StrCat(frozen ? "freezing " : "thawing ", d->dir,
                                            " did not settle within ",
                                            absl::FormatDuration(options_.freeze_timeout)));
}

absl::Status Manager::Freeze() const { return SetFrozen(true); }
absl::Status Manager::Thaw() const { return SetFrozen(false); }

absl::StatusOr<FreezerState> Manager::GetFreezerState() const {
  const CgroupDir* d = Freezer();
  if (d == nullptr || (d->hierarchy.version == 2 && !CgroupFileExists(d->dir, "cgroup.freeze"))) {
    return FreezerState::kThawed;  // nothing can freeze it
  }
  if (d->hierarchy.version == 1) {
    ASSIGN_OR_RETURN(std::string state, ReadCgroupValue(d->dir, "freezer.state"));
    if (state == "FROZEN") return FreezerState::kFrozen;
    if (state == "FREEZING") return FreezerState::kFreezing;
    return FreezerState::kThawed;
  }
  ASSIGN_OR_RETURN(std::string want, ReadCgroupValue(d->dir, "cgroup.freeze"));
  if (want != "1") return FreezerState::kThawed;
  ASSIGN_OR_RETURN(std::string events, ReadCgroupFile(d->dir, "cgroup.events"));
  auto m = ParseFlatKeyed(events);
  return m["frozen"] == 1 ? FreezerState::kFrozen : FreezerState::kFreezing;
}

absl::StatusOr<std::vector<pid_t>> Manager::Pids() const {
  const CgroupDir* d = nullptr;
  if (mode_ == Mode::kV2) {
    d = FindUnified(dirs_);
  } else {
    for (std::string_view c : {"pids", "freezer", "memory", "devices", "cpu"}) {
      if ((d = FindDir(dirs_, c)) != nullptr && d->hierarchy.version == 1) break;
      d = nullptr;
    }
    if (d == nullptr) d = &dirs_.front();
  }
  std::vector<pid_t> pids;
  RETURN_IF_ERROR(CollectPids(d->dir, &pids));
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

absl::Status Manager::KillAll(int signal) const {
  const CgroupDir* u = FindUnified(dirs_);
  if (signal == SIGKILL && u != nullptr && CgroupFileExists(u->dir, "cgroup.kill")) {
    return WriteCgroupFile(u->dir, "cgroup.kill", "1");
  }
  absl::Status frozen = Freeze();
  if (!frozen.ok()) log::Debug(kLog, "killing without freezing", {{"cgroup", path_.path}, {"error", frozen}});
  absl::StatusOr<std::vector<pid_t>> pids = Pids();
  absl::Status result = pids.status();
  if (pids.ok()) {
    for (pid_t pid : *pids) {
      if (::kill(pid, signal) != 0 && errno != ESRCH && result.ok()) {
        result = ErrnoError(StrCat("send signal ", signal, " to"), StrCat("pid ", pid));
      }
    }
  }
  if (frozen.ok()) {
    absl::Status thawed = Thaw();
    if (result.ok()) result = thawed;
  }
  return result;
}

absl::Status Manager::Destroy() const {
  absl::Time deadline = absl::Now() + options_.destroy_timeout;
  absl::Status first;
  for (const CgroupDir& d : dirs_) {
    absl::Status st = RemoveTree(d.dir, deadline);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

absl::StatusOr<Stats> Manager::GetStats(const StatsParts& parts) const {
  const char* controllers[] = {
      parts.cpu ? "cpuacct" : nullptr, parts.cpu ? "cpu" : nullptr,         parts.memory ? "memory" : nullptr,
      parts.pids ? "pids" : nullptr,   parts.hugetlb ? "hugetlb" : nullptr, parts.io ? "blkio" : nullptr,
      parts.io ? "io" : nullptr};
  for (const char* c : controllers) {
    const CgroupDir* d = c != nullptr ? FindDir(dirs_, c) : nullptr;
    if (d != nullptr && !IsDir(d->dir)) {
      return absl::NotFoundError(StrCat("cgroup ", path_.path, " does not exist"));
    }
  }
  Stats s;
  const CgroupDir* cpuacct = parts.cpu ? FindDir(dirs_, "cpuacct") : nullptr;
  const CgroupDir* cpu = FindDir(dirs_, "cpu");
  const CgroupDir* u = parts.cpu ? FindUnified(dirs_) : nullptr;
  if (cpuacct != nullptr && cpuacct->hierarchy.version == 1) {
    ASSIGN_OR_RETURN(s.cpu, ReadCpuStatsV1(cpuacct->dir, cpu && cpu->hierarchy.version == 1 ? cpu->dir : ""));
  } else if (u != nullptr && CgroupFileExists(u->dir, "cpu.stat")) {
    ASSIGN_OR_RETURN(s.cpu, ReadCpuStatsV2(u->dir));
  }
  if (const CgroupDir* m = parts.memory ? FindDir(dirs_, "memory") : nullptr) {
    if (m->hierarchy.version == 1) {
      ASSIGN_OR_RETURN(s.memory, ReadMemoryStatsV1(m->dir));
    } else if (CgroupFileExists(m->dir, "memory.current")) {
      ASSIGN_OR_RETURN(s.memory, ReadMemoryStatsV2(m->dir));
    }
  }
  if (const CgroupDir* p = parts.pids ? FindDir(dirs_, "pids") : nullptr;
      p && CgroupFileExists(p->dir, "pids.current")) {
    ASSIGN_OR_RETURN(s.pids, ReadPidsStats(p->dir));
  }
  if (const CgroupDir* h = parts.hugetlb ? FindDir(dirs_, "hugetlb") : nullptr) {
    ASSIGN_OR_RETURN(s.hugetlb, ReadHugetlbStats(h->dir, h->hierarchy.version));
  }
  if (!parts.io) return s;
  if (const CgroupDir* b = FindDir(dirs_, "blkio"); b && b->hierarchy.version == 1) {
    ASSIGN_OR_RETURN(s.io, ReadIoStatsV1(b->dir));
  } else if (const CgroupDir* io = FindDir(dirs_, "io"); io && CgroupFileExists(io->dir, "io.stat")) {
    ASSIGN_OR_RETURN(s.io, ReadIoStatsV2(io->dir));
  }
  return s;
}

absl::StatusOr<OomWatcher> Manager::WatchOom() const {
  const CgroupDir* m = FindDir(dirs_, "memory");
  if (m == nullptr)
    return absl::FailedPreconditionError("cannot watch for OOM kills: no memory cgroup controller");
  return OomWatcher::Start(m->dir, m->hierarchy.version);
}

absl::StatusOr<uint64_t> Manager::OomKillCount() const {
  const CgroupDir* m = FindDir(dirs_, "memory");
  if (m == nullptr)
    return absl::FailedPreconditionError("cannot read OOM kills: no memory cgroup controller");
  return ReadOomKillCount(m->dir, m->hierarchy.version);
}

}  // namespace cricket::cgroups
