// cricket's cgroup manager: one container's (or pod's) cgroup across every hierarchy of the host.
//
// A Manager is a cheap value (paths only; no global state, no open fds, no caching): build one
// wherever needed from a Layout (detect once per process and share it) and a CgroupPath. Methods
// are const and safe to call from several threads; operations on the same cgroup from several
// threads race as they would in the kernel.
//
// How the embedded runtime uses it at container create (init process cloned and held before exec):
//
//   ASSIGN_OR_RETURN(Layout layout, Layout::Detect());
//   ASSIGN_OR_RETURN(CgroupPath where, ParseCgroupsPath(driver, spec.linux->cgroups_path, id));
//   ASSIGN_OR_RETURN(Manager cg, Manager::Open(layout, where));
//   RETURN_IF_ERROR(cg.Create());                      // directories, v2 subtree_control, v1 cpusets
//   absl::Cleanup undo = [&] { (void)cg.Destroy(); };  // a failed create leaves no cgroup
//   if (spec.linux->resources) RETURN_IF_ERROR(cg.Set(*spec.linux->resources));  // limits first...
//   RETURN_IF_ERROR(cg.Join(init_pid));                // ...then the held init joins, before it execs
//   std::move(undo).Cancel();
//
// Setting limits before the process joins means it never runs unlimited. (Join before Set works too:
// runc joins first; either way the user process must not be exec'd before both are done.)
// update: cg.Update(resources). pause/resume: Freeze()/Thaw(). kill --all: KillAll(sig).
// delete: Destroy() after the processes are gone (it retries briefly on EBUSY while they exit).
// cricket-conmon: WatchOom() right after create; on exit OomKillCount() > 0 means OOM-killed.
// cricketd stats: Manager::Open(layout, path).GetStats().
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/common/unique_fd.h"
#include "lib/oci/spec.h"
#include "lib/runtime/cgroups/cgroup_path.h"
#include "lib/runtime/cgroups/device_filter.h"
#include "lib/runtime/cgroups/layout.h"
#include "lib/runtime/cgroups/oom.h"
#include "lib/runtime/cgroups/resource_plan.h"
#include "lib/runtime/cgroups/stats.h"

namespace cricket::cgroups {

struct ManagerOptions {
  // How long Freeze/Thaw wait for the freezer to settle.
  absl::Duration freeze_timeout = absl::Seconds(10);
  // How long Destroy retries rmdir while it fails with EBUSY (processes still exiting).
  absl::Duration destroy_timeout = absl::Seconds(5);
  // Installs the v2 device program; nullptr means the real bpf(2) one. Not owned; must outlive the
  // Manager (tests pass a recorder).
  const DeviceFilterInstaller* device_filter = nullptr;
};

enum class FreezerState { kThawed, kFreezing, kFrozen };
std::string_view FreezerStateName(FreezerState state);

class Manager {
 public:
  // Locates `path` in every hierarchy of `layout`. Touches nothing.
  static absl::StatusOr<Manager> Open(const Layout& layout, const CgroupPath& path,
                                      ManagerOptions options = {});

  Mode mode() const { return mode_; }
  const CgroupPath& path() const { return path_; }
  // One entry per hierarchy: v1 ones (including named ones such as name=systemd), then the unified one.
  const std::vector<CgroupDir>& dirs() const { return dirs_; }
  // The directory serving `controller` ("memory", "hugetlb"), or "" when no hierarchy has it.
  std::string DirFor(std::string_view controller) const;
  // The cgroup exists in every hierarchy.
  bool Exists() const;

  // mkdir -p in every hierarchy. v2: enables, in each ancestor's cgroup.subtree_control from the root
  // down, the controllers that ancestor has (a controller the kernel refuses, e.g. because the
  // ancestor holds processes, is logged and left off; Set then names it if a limit needs it). v1:
  // fills empty cpuset.cpus/mems from the parent all the way down (a new cpuset has none and takes no
  // tasks). An existing cgroup is fine. On failure, directories this call created are removed.
  absl::Status Create() const;

  // What a new process needs to join this cgroup by itself, as a container's init does (runtime
  // InitPlan): every v1 hierarchy's `tasks` file open for writing, where it writes "0" (or none, when
  // one cannot be opened: then Join moves it into them all), and the v2 directory to be cloned into
  // (CLONE_INTO_CGROUP, Linux 5.7; none on an older kernel). Neither takes the write lock that moving
  // another process through cgroup.procs takes, whose first use after a pause waits for an RCU grace
  // period (5 ms and more).
  struct SelfJoin {
    std::vector<UniqueFd> v1_tasks;
    UniqueFd v2_dir;
  };
  SelfJoin OpenSelfJoin() const;

  // Moves `pid` (a whole process) into the cgroup in every hierarchy `self` does not cover (every
  // hierarchy with an empty one).
  absl::Status Join(pid_t pid, const SelfJoin& self = {}) const;

  // Join for a process added to a running container (exec). cgroup v2 keeps processes in leaves only
  // ("no internal processes"): when the container made child cgroups of its own and enabled controllers
  // for them, writing into its cgroup fails with EBUSY. Then `pid` joins the v2 cgroup `init_pid` is in
  // (a leaf, or the kernel would not hold the init there), provided that lies at or below this cgroup.
  absl::Status JoinBeside(pid_t pid, pid_t init_pid) const;

  // Applies linux.resources (see resource_plan.h for the files). Values the host cannot honour fail
  // before anything is written, naming the resource and the controller.
  absl::Status Set(const oci::LinuxResources& resources) const;
  // The same for a live container (`update`): also honours memory.checkBeforeUpdate.
  absl::Status Update(const oci::LinuxResources& resources) const;
  // The writes Set/Update would do.
  absl::StatusOr<ResourcePlan> Plan(const oci::LinuxResources& resources, bool update) const;

  // v1: freezer.state FROZEN/THAWED, polled until settled. v2 (also hybrid without a v1 freezer):
  // cgroup.freeze, waiting for cgroup.events "frozen". DeadlineExceeded after freeze_timeout (and a
  // Freeze that timed out is undone).
  absl::Status Freeze() const;
  absl::Status Thaw() const;
  absl::StatusOr<FreezerState> GetFreezerState() const;

  // Every process in the cgroup and its descendants, sorted.
  absl::StatusOr<std::vector<pid_t>> Pids() const;

  // Sends `signal` to every process. SIGKILL with a cgroup.kill file (v2, and hybrid via the unified
  // hierarchy) is one write; otherwise the cgroup is frozen (when a freezer exists), each process
  // signalled, and thawed, so that nothing forks in between.
  absl::Status KillAll(int signal) const;

  // Removes the cgroup and any cgroups created below it, leaf first, in every hierarchy; retries while
  // rmdir says EBUSY up to destroy_timeout. A missing cgroup is success; ancestors are left alone.
  absl::Status Destroy() const;

  // NotFound when a directory it would read from does not exist.
  absl::StatusOr<Stats> GetStats(const StatsParts& parts = {}) const;

  // Starts watching for OOM kills (the memory controller's hierarchy). FailedPrecondition when the
  // host has no memory controller.
  absl::StatusOr<OomWatcher> WatchOom() const;
  // The kernel's count of OOM kills in this cgroup (oom.h, ReadOomKillCount).
  absl::StatusOr<uint64_t> OomKillCount() const;

 private:
  Manager() = default;
  const CgroupDir* Freezer() const;  // v1 freezer, else the unified hierarchy, else nullptr
  absl::Status SetFrozen(bool frozen) const;
  absl::Status CreateOne(const CgroupDir& d, std::vector<std::string>* created) const;

  Mode mode_ = Mode::kV1;
  CgroupPath path_;
  std::vector<CgroupDir> dirs_;
  ManagerOptions options_;
};

// Fills an empty cpuset.cpus / cpuset.mems in every cgroup from below `mount_point` down to `dir`
// from its parent (v1).
absl::Status PropagateCpusetV1(const std::string& mount_point, const std::string& dir);

// Enables, in every cgroup from `mount_point` down to the parent of `dir`, the controllers listed in
// its cgroup.controllers (v2). Controllers the kernel refuses are returned, not treated as errors.
absl::StatusOr<std::vector<std::string>> EnableControllersV2(const std::string& mount_point,
                                                             const std::string& dir);

}  // namespace cricket::cgroups
