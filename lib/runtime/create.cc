// Runtime::Create: plan, clone the init, drive its setup, record the container.
#include <fcntl.h>
#include <signal.h>
#include <sys/personality.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/runtime/console.h"
#include "lib/runtime/container_ops.h"
#include "lib/runtime/container_store.h"
#include "lib/runtime/hooks.h"
#include "lib/runtime/init_child.h"
#include "lib/runtime/plan_builder.h"
#include "lib/runtime/process_limits.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/spawn.h"
#include "lib/sys/clone.h"
#include "lib/sys/mount_tree.h"
#include "lib/sys/sys.h"

namespace cricket::runtime {
namespace {

void LogWarnings(const std::string& id, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) log::Warn("runtime", w, {{"id", id}});
}

absl::StatusOr<oci::Spec> LoadCreateSpec(const CreateOptions& o, std::string* bundle) {
  if (o.bundle.empty()) return absl::InvalidArgumentError("a bundle directory is required");
  char* real = ::realpath(o.bundle.c_str(), nullptr);
  if (real == nullptr) return ErrnoError("resolve bundle", o.bundle);
  *bundle = real;
  ::free(real);
  oci::Spec spec;
  if (o.spec) {
    spec = *o.spec;
    RETURN_IF_ERROR(oci::ValidateSpec(spec));
  } else {
    ASSIGN_OR_RETURN(spec, oci::LoadSpecFile(*bundle));
  }
  return spec;
}

// Opens the namespaces to join and the user namespaces of idmapped mounts, and makes the detached
// trees the init attaches: those of idmapped mounts (only the initial user namespace may idmap the
// host's filesystems) and, for an init in a user namespace, every bind mount and the rootfs (the init
// may not be allowed to traverse their paths). `owned` keeps the fds; closing them unmounts the trees.
absl::Status OpenPlanFds(InitPlan* plan, std::vector<UniqueFd>* owned) {
  for (NamespaceJoin& j : plan->ns.joins) {
    UniqueFd fd(::open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoError("open namespace", j.path);
    j.fd = fd.get();
    owned->push_back(std::move(fd));
  }
  RootfsPlan& rootfs = plan->rootfs;
  for (size_t i = 0; i < rootfs.idmaps.size(); ++i) {
    const auto& req = rootfs.idmaps[i];
    UniqueFd fd;
    if (!req.userns_path.empty()) {
      fd.reset(::open(req.userns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return ErrnoError("open user namespace", req.userns_path);
    } else {
      ASSIGN_OR_RETURN(fd, sys::MakeUserNamespace(req.uid_map, req.gid_map));
    }
    rootfs.idmap_userns_fds[i] = fd.get();
    owned->push_back(std::move(fd));
  }
  const bool in_user_ns = plan->ns.in_user_ns() && !plan->ns.shares_host_mount_ns;
  for (MountStep& s : rootfs.steps) {
    if (s.kind != MountStep::Kind::kBind || (!in_user_ns && s.idmap_index < 0)) continue;
    const char* what = "";
    const char* object = "";
    int tree = MakeBindTree(s, rootfs, sys::LinuxSys(), &what, &object);
    if (tree < 0) return ErrnoError(-tree, what, object);
    s.tree_fd = tree;
    owned->emplace_back(tree);
  }
  if (in_user_ns) {
    ASSIGN_OR_RETURN(UniqueFd root, sys::CloneMountTree(AT_FDCWD, rootfs.rootfs, true));
    rootfs.root_tree_fd = root.get();
    owned->push_back(std::move(root));
  }
  return absl::OkStatus();
}

absl::Status PlanPersonality(const oci::Spec& spec, ProcessPlan* plan) {
  if (!spec.linux || !spec.linux->personality) return absl::OkStatus();
  const oci::Personality& p = *spec.linux->personality;
  if (p.domain == "LINUX") {
    plan->personality = PER_LINUX;
  } else if (p.domain == "LINUX32") {
    plan->personality = PER_LINUX32;
  } else {
    return absl::InvalidArgumentError(StrCat("linux.personality.domain: unknown value \"", p.domain, "\""));
  }
  if (!p.flags.empty()) return absl::InvalidArgumentError("linux.personality.flags: no flags are supported");
  plan->set_personality = true;
  return absl::OkStatus();
}

// Properties cricket does not implement fail loudly rather than being dropped.
absl::Status CheckUnsupported(const oci::Spec& spec) {
  if (!spec.linux) return absl::OkStatus();
  if (spec.linux->intel_rdt) return absl::UnimplementedError("linux.intelRdt (resctrl) is not supported");
  if (!spec.linux->net_devices.empty()) return absl::UnimplementedError("linux.netDevices is not supported");
  if (spec.linux->memory_policy) return absl::UnimplementedError("linux.memoryPolicy is not supported");
  return absl::OkStatus();
}

absl::StatusOr<InitPlan> BuildInitPlan(const oci::Spec& spec, const CreateOptions& o, PlanContext& ctx) {
  RETURN_IF_ERROR(CheckUnsupported(spec));
  InitPlan plan;
  ASSIGN_OR_RETURN(plan.ns, BuildNamespacePlan(spec));
  ASSIGN_OR_RETURN(plan.rootfs, BuildRootfsPlan(spec, plan.ns, ctx));
  ctx.rootfs = plan.rootfs.rootfs;
  plan.rootfs.no_pivot = o.no_pivot;
  // Without process the container is created all the same; start then fails (config.md "process":
  // REQUIRED when start is called).
  if (spec.process) {
    ASSIGN_OR_RETURN(plan.process, BuildProcessPlan(*spec.process, plan.ns, ctx));
  }
  RETURN_IF_ERROR(PlanPersonality(spec, &plan.process));
  if (spec.linux && spec.linux->seccomp) {
    ASSIGN_OR_RETURN(SeccompCompileResult sc, CompileSeccomp(*spec.linux->seccomp));
    plan.process.seccomp = std::move(sc.program);
  }
  for (int i = 0; i < 3; ++i) plan.process.stdio[i] = o.stdio[i];
  plan.process.extra_fds = o.extra_fds;
  const oci::Hooks hooks = spec.hooks.value_or(oci::Hooks{});
  plan.hook_point =
      !hooks.prestart.empty() || !hooks.create_runtime.empty() || !hooks.create_container.empty();
  return plan;
}

struct SetupOutcome {
  UniqueFd console;
};

// Runs the prestart, createRuntime and createContainer hooks at the init's hook point.
absl::Status RunCreateHooks(const oci::Spec& spec, const ContainerRecord& r, const sys::PidFd& init,
                            int timeout_ms) {
  const oci::Hooks hooks = spec.hooks.value_or(oci::Hooks{});
  // The deprecated prestart hooks see "created", as they did when they ran at start (runtime-tools
  // checks it); the create hooks see "creating".
  std::string state = oci::SerializeState(MakeState(r, oci::ContainerStatus::kCreating));
  RETURN_IF_ERROR(RunHooks(hooks.prestart, "prestart",
                           oci::SerializeState(MakeState(r, oci::ContainerStatus::kCreated)), timeout_ms));
  RETURN_IF_ERROR(RunHooks(hooks.create_runtime, "createRuntime", state, timeout_ms));
  if (hooks.create_container.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(uint64_t flags, NamespacesToJoin(init.pid()));
  return RunHooksInContainer(hooks.create_container, "createContainer", state, init, flags, timeout_ms);
}

// Answers the init's messages until it is ready.
absl::StatusOr<SetupOutcome> DriveSetup(const oci::Spec& spec, const ContainerRecord& r, SetupChild& child,
                                        int timeout_ms) {
  SetupOutcome out;
  for (;;) {
    ASSIGN_OR_RETURN(Received m, SyncReceive(child.sync.get(), timeout_ms));
    switch (static_cast<SyncType>(m.msg.type)) {
      case SyncType::kError:
        return absl::InternalError(DescribeError(m.msg));
      case SyncType::kWarning:
        log::Warn("runtime", m.msg.text, {{"id", r.id}});
        break;
      case SyncType::kHookPoint:
        RETURN_IF_ERROR(RunCreateHooks(spec, r, child.pidfd, timeout_ms));
        RETURN_IF_ERROR(SyncContinue(child.sync.get()));
        break;
      case SyncType::kConsole:
        out.console = std::move(m.fd);
        break;
      case SyncType::kReady:
        return out;
      default:
        return absl::InternalError(StrCat("unexpected message ", m.msg.type, " from the container init"));
    }
  }
}

// The id maps; then, while the init sets up its rootfs, the cgroup and the limits (init_child.h).
absl::Status PrepareInit(const oci::Spec& spec, const InitPlan& plan,
                         const std::optional<cgroups::Manager>& cg,
                         const cgroups::Manager::SelfJoin& self_join, const SetupChild& child,
                         std::vector<std::string>* warnings) {
  const pid_t pid = child.pidfd.pid();
  if (plan.ns.new_user_ns) {
    RETURN_IF_ERROR(
        Annotate(sys::WriteIdMaps(pid, plan.ns.uid_map, plan.ns.gid_map, false), "write id maps"));
  }
  RETURN_IF_ERROR(SyncContinue(child.sync.get()));
  // What the init did not join itself (see InitPlan).
  if (cg) RETURN_IF_ERROR(Annotate(cg->Join(pid, self_join), "join cgroup"));
  if (spec.process) RETURN_IF_ERROR(ApplyProcessLimits(pid, *spec.process, warnings));
  return SyncContinue(child.sync.get(), SyncType::kJoined);
}

}  // namespace

absl::StatusOr<Container> Runtime::Create(const std::string& id, const CreateOptions& o) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::string bundle;
  ASSIGN_OR_RETURN(oci::Spec spec, LoadCreateSpec(o, &bundle));
  ContainerStore store(options_.root);
  RETURN_IF_ERROR(store.CreateDir(id));
  ContainerRecord r;
  r.id = id;
  std::optional<cgroups::Manager> cg;
  sys::PidFd init;
  absl::Cleanup undo = [&] {
    KillAndReap(init);
    absl::Status s = RemoveContainer(store, r, cg);
    if (!s.ok()) log::Warn("runtime", "cleanup after failed create", {{"id", id}, {"error", s}});
  };
  ASSIGN_OR_RETURN(UniqueFd lock, store.Lock(id));
  r.bundle = bundle;
  r.created_ns = RealtimeNow();
  r.annotations = spec.annotations;
  r.cgroup_driver = options_.systemd_cgroup ? "systemd" : "cgroupfs";
  r.cgroups_path = spec.linux ? spec.linux->cgroups_path : "";
  RETURN_IF_ERROR(store.SaveSpec(id, spec));
  RETURN_IF_ERROR(store.Save(r));

  std::vector<std::string> warnings;
  PlanContext ctx;
  ctx.bundle = bundle;
  ctx.host = HostFacts::Detect();
  ctx.warnings = &warnings;
  if (options_.cgroup_layout) {
    ctx.host.cgroup_hierarchies = options_.cgroup_layout->hierarchies();
    cg = CgroupFor(options_, r);
    if (!cg)
      return absl::InvalidArgumentError(StrCat("linux.cgroupsPath \"", r.cgroups_path, "\" is not usable"));
    RETURN_IF_ERROR(Annotate(cg->Create(), "create cgroup"));
    if (spec.linux && spec.linux->resources)
      RETURN_IF_ERROR(Annotate(cg->Set(EffectiveResources(spec)), "set resources"));
    ctx.cgroup_dirs = cg->dirs();
  }
  ASSIGN_OR_RETURN(InitPlan plan, BuildInitPlan(spec, o, ctx));
  cgroups::Manager::SelfJoin self_join;  // open until the init has been cloned and has joined
  if (cg) {
    self_join = cg->OpenSelfJoin();
    for (const UniqueFd& fd : self_join.v1_tasks) plan.cgroup1_tasks_fds.push_back(fd.get());
    plan.cgroup2_fd = self_join.v2_dir.valid() ? self_join.v2_dir.get() : -1;
  }
  r.rootfs = plan.rootfs.rootfs;
  r.shares_host_mount_ns = plan.ns.shares_host_mount_ns;
  r.private_pid_ns = (plan.ns.clone_flags & CLONE_NEWPID) != 0;
  std::vector<UniqueFd> plan_fds;
  RETURN_IF_ERROR(OpenPlanFds(&plan, &plan_fds));
  ASSIGN_OR_RETURN(UniqueFd start_sock, ListenStartSocket(store.Dir(id)));

  ASSIGN_OR_RETURN(SetupChild child, SpawnInit(plan, start_sock.get(), options_.setup_timeout_ms));
  absl::Cleanup reap = [&] { KillAndReap(child.pidfd); };
  ASSIGN_OR_RETURN(r.init, sys::IdentifyProcess(child.pidfd.pid()));
  RETURN_IF_ERROR(store.Save(r));
  absl::Status prepared = PrepareInit(spec, plan, cg, self_join, child, &warnings);
  if (!prepared.ok()) {
    return Annotate(PreferChildError(child.sync.get(), prepared), StrCat("create container ", id));
  }
  LogWarnings(id, warnings);
  auto setup = DriveSetup(spec, r, child, options_.setup_timeout_ms);
  if (!setup.ok()) return Annotate(setup.status(), StrCat("create container ", id));
  std::move(reap).Cancel();
  init = std::move(child.pidfd);

  r.created = true;
  RETURN_IF_ERROR(store.Save(r));
  if (!o.pid_file.empty()) RETURN_IF_ERROR(ReplaceFile(o.pid_file, StrCat(init.pid()), 0644));
  Container out;
  if (setup->console && !o.console_socket.empty()) {
    RETURN_IF_ERROR(SendConsole(o.console_socket, setup->console.get(), id));
  } else {
    out.console = std::move(setup->console);
  }
  std::move(undo).Cancel();
  out.id = id;
  out.pid = init.pid();
  out.pidfd = std::move(init);
  return out;
}

}  // namespace cricket::runtime
