// Runtime: the lifecycle operations other than create and exec (create.cc, exec.cc).
#include "lib/runtime/runtime.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/container_ops.h"
#include "lib/runtime/hooks.h"
#include "lib/sys/mountinfo.h"

namespace cricket::runtime {

absl::StatusOr<Runtime> Runtime::Open(RuntimeOptions options) {
  if (options.root.empty() || !options.root.starts_with("/")) {
    return absl::InvalidArgumentError(
        StrCat("runtime root must be an absolute path: \"", options.root, "\""));
  }
  if (!options.cgroup_layout) {
    auto layout = cgroups::Layout::Detect();
    if (layout.ok()) {
      options.cgroup_layout = std::move(*layout);
    } else {
      log::Warn("runtime", "no cgroup layout: containers get no cgroup", {{"error", layout.status()}});
    }
  }
  return Runtime(std::move(options));
}

absl::StatusOr<oci::State> Runtime::State(const std::string& id) const {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  return MakeState(r, ComputeStatus(r, CgroupFor(options_, r)));
}

absl::StatusOr<std::vector<oci::State>> Runtime::List() const {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(auto ids, store.List());
  std::vector<oci::State> out;
  for (const auto& id : ids) {
    auto s = State(id);
    if (s.ok()) out.push_back(std::move(*s));  // a container deleted meanwhile is skipped
  }
  return out;
}

absl::StatusOr<oci::Spec> Runtime::Spec(const std::string& id) const {
  ContainerStore store(options_.root);
  RETURN_IF_ERROR(store.Load(id).status());
  return store.LoadSpec(id);
}

absl::Status Runtime::Start(const std::string& id) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(UniqueFd lock, store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  oci::ContainerStatus status = ComputeStatus(r, CgroupFor(options_, r));
  if (status != oci::ContainerStatus::kCreated) {
    return absl::FailedPreconditionError(
        StrCat("cannot start container ", id, ": it is ", oci::ContainerStatusName(status), ", not created"));
  }
  ASSIGN_OR_RETURN(oci::Spec spec, store.LoadSpec(id));
  ASSIGN_OR_RETURN(sys::PidFd init, sys::PidFd::OpenIdentity(r.init));
  const oci::Hooks hooks = spec.hooks.value_or(oci::Hooks{});
  if (!hooks.start_container.empty()) {
    std::string state = oci::SerializeState(MakeState(r, oci::ContainerStatus::kCreated));
    auto flags = NamespacesToJoin(r.init.pid);
    absl::Status hs = flags.ok() ? RunHooksInContainer(hooks.start_container, "startContainer", state, init,
                                                       *flags, options_.setup_timeout_ms)
                                 : flags.status();
    if (!hs.ok()) {
      // config.md: a failing startContainer hook stops the container.
      (void)init.Signal(SIGKILL);
      return hs;
    }
  }
  r.started = true;
  RETURN_IF_ERROR(store.Save(r));
  absl::Status exec = RequestStart(store.Dir(id));
  if (!exec.ok()) return Annotate(exec, StrCat("start container ", id));
  if (!hooks.poststart.empty()) {
    std::string state = oci::SerializeState(MakeState(r, oci::ContainerStatus::kRunning));
    RunHooksWarnOnly(hooks.poststart, "poststart", state, options_.setup_timeout_ms, id);
  }
  return absl::OkStatus();
}

absl::Status Runtime::Kill(const std::string& id, int signal, bool all) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  oci::ContainerStatus status = ComputeStatus(r, cg);
  if (status == oci::ContainerStatus::kStopped || status == oci::ContainerStatus::kCreating) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  if (all && cg) return cg->KillAll(signal);
  ASSIGN_OR_RETURN(sys::PidFd init, sys::PidFd::OpenIdentity(r.init));
  return init.Signal(signal);
}

absl::Status Runtime::Delete(const std::string& id, bool force) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(UniqueFd lock, store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  oci::ContainerStatus status = ComputeStatus(r, cg);
  if (status != oci::ContainerStatus::kStopped && !force) {
    return absl::FailedPreconditionError(
        StrCat("cannot delete container ", id, " that is not stopped: ", oci::ContainerStatusName(status)));
  }
  // Also when stopped: in a shared pid namespace the death of the init does not end the other
  // processes of its cgroup (a daemon started by exec), and the cgroup cannot go while they live.
  RETURN_IF_ERROR(KillEverything(r, cg));
  auto spec = store.LoadSpec(id);
  if (spec.ok() && spec->hooks && !spec->hooks->poststop.empty()) {
    std::string state = oci::SerializeState(MakeState(r, oci::ContainerStatus::kStopped));
    RunHooksWarnOnly(spec->hooks->poststop, "poststop", state, options_.setup_timeout_ms, id);
  }
  return RemoveContainer(store, r, cg);
}

absl::Status Runtime::Pause(const std::string& id) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  oci::ContainerStatus status = ComputeStatus(r, cg);
  if (status != oci::ContainerStatus::kRunning && status != oci::ContainerStatus::kCreated) {
    return absl::FailedPreconditionError(
        StrCat("container ", id, " is not running: ", oci::ContainerStatusName(status)));
  }
  if (!cg) return absl::FailedPreconditionError(StrCat("container ", id, " has no cgroup to freeze"));
  return cg->Freeze();
}

absl::Status Runtime::Resume(const std::string& id) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  oci::ContainerStatus status = ComputeStatus(r, cg);
  if (status != oci::ContainerStatus::kPaused) {
    return absl::FailedPreconditionError(
        StrCat("container ", id, " is not paused: ", oci::ContainerStatusName(status)));
  }
  return cg->Thaw();
}

absl::Status Runtime::Update(const std::string& id, const oci::LinuxResources& resources) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(UniqueFd lock, store.Lock(id));
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  if (ComputeStatus(r, cg) == oci::ContainerStatus::kStopped) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  if (!cg) return absl::FailedPreconditionError(StrCat("container ", id, " has no cgroup"));
  ASSIGN_OR_RETURN(oci::Spec spec, store.LoadSpec(id));
  if (!spec.linux) spec.linux.emplace();
  spec.linux->resources = MergeResources(spec.linux->resources.value_or(oci::LinuxResources{}), resources);
  oci::LinuxResources apply = resources;
  // New device rules replace the old ones: the runtime's own rules must follow them again.
  if (!resources.devices.empty()) apply.devices = EffectiveResources(spec).devices;
  RETURN_IF_ERROR(cg->Update(apply));
  return store.SaveSpec(id, spec);
}

absl::StatusOr<cgroups::Stats> Runtime::Stats(const std::string& id, const cgroups::StatsParts& parts) const {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  if (!cg) return absl::FailedPreconditionError(StrCat("container ", id, " has no cgroup"));
  return cg->GetStats(parts);
}

absl::StatusOr<std::vector<pid_t>> Runtime::Pids(const std::string& id) const {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  if (cg) return cg->Pids();
  if (ComputeStatus(r, cg) == oci::ContainerStatus::kStopped) return std::vector<pid_t>{};
  return std::vector<pid_t>{r.init.pid};
}

}  // namespace cricket::runtime
