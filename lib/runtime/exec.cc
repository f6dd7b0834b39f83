// Runtime::Exec: another process in a created or running container.
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/console.h"
#include "lib/runtime/container_ops.h"
#include "lib/runtime/container_store.h"
#include "lib/runtime/plan_builder.h"
#include "lib/runtime/process_limits.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/seccomp.h"
#include "lib/runtime/spawn.h"

namespace cricket::runtime {
namespace {

absl::StatusOr<ExecPlan> BuildExecPlan(const oci::Spec& spec, const std::string& rootfs, const ExecOptions& o,
                                       const sys::PidFd& init, std::vector<std::string>* warnings) {
  ExecPlan plan;
  plan.init_pidfd = init.get();
  ASSIGN_OR_RETURN(plan.ns_flags, NamespacesToJoin(init.pid()));
  PlanContext ctx;
  ctx.host = HostFacts::Detect();
  ctx.warnings = warnings;
  ctx.rootfs = rootfs;
  ASSIGN_OR_RETURN(NamespacePlan ns, BuildNamespacePlan(spec));
  ASSIGN_OR_RETURN(plan.process, BuildProcessPlan(o.process, ns, ctx));
  // The container's seccomp filter confines every process in it, exec'd ones included.
  if (spec.linux && spec.linux->seccomp) {
    ASSIGN_OR_RETURN(SeccompCompileResult sc, CompileSeccomp(*spec.linux->seccomp));
    plan.process.seccomp = std::move(sc.program);
  }
  for (int i = 0; i < 3; ++i) plan.process.stdio[i] = o.stdio[i];
  plan.process.extra_fds = o.extra_fds;
  return plan;
}

// Answers the exec'd process until it has exec'd (EOF on the sync socket) or failed.
absl::StatusOr<UniqueFd> DriveExec(SetupChild& child, int timeout_ms) {
  UniqueFd console;
  RETURN_IF_ERROR(SyncContinue(child.sync.get()));
  for (;;) {
    auto m = SyncReceive(child.sync.get(), timeout_ms);
    if (!m.ok()) {
      if (absl::IsAborted(m.status())) return console;  // EOF: execve closed the socket
      return m.status();
    }
    switch (static_cast<SyncType>(m->msg.type)) {
      case SyncType::kError:
        return absl::InternalError(DescribeError(m->msg));
      case SyncType::kWarning:
        log::Warn("runtime", m->msg.text);
        break;
      case SyncType::kConsole:
        console = std::move(m->fd);
        break;
      default:
        break;
    }
  }
}

}  // namespace

absl::StatusOr<ExecResult> Runtime::Exec(const std::string& id, const ExecOptions& o) {
  ContainerStore store(options_.root);
  ASSIGN_OR_RETURN(ContainerRecord r, store.Load(id));
  auto cg = CgroupFor(options_, r);
  oci::ContainerStatus status = ComputeStatus(r, cg);
  if (status != oci::ContainerStatus::kRunning && status != oci::ContainerStatus::kCreated) {
    return absl::FailedPreconditionError(
        StrCat("cannot exec in container ", id, ": it is ", oci::ContainerStatusName(status)));
  }
  RETURN_IF_ERROR(oci::ValidateProcess(o.process));
  ASSIGN_OR_RETURN(oci::Spec spec, store.LoadSpec(id));
  ASSIGN_OR_RETURN(sys::PidFd init, sys::PidFd::OpenIdentity(r.init));
  std::vector<std::string> warnings;
  ASSIGN_OR_RETURN(ExecPlan plan, BuildExecPlan(spec, r.rootfs, o, init, &warnings));
  for (const auto& w : warnings) log::Warn("runtime", w, {{"id", id}});
  ASSIGN_OR_RETURN(SetupChild child, SpawnExec(plan, options_.setup_timeout_ms));
  absl::Status prepared = absl::OkStatus();
  if (cg) prepared = Annotate(cg->JoinBeside(child.pidfd.pid(), init.pid()), "join the container's cgroup");
  if (prepared.ok()) {
    std::vector<std::string> limit_warnings;
    prepared = ApplyProcessLimits(child.pidfd.pid(), o.process, &limit_warnings);
    for (const auto& w : limit_warnings) log::Warn("runtime", w, {{"id", id}});
  }
  absl::StatusOr<UniqueFd> console = prepared.ok() ? DriveExec(child, options_.setup_timeout_ms)
                                                   : PreferChildError(child.sync.get(), prepared);
  if (!console.ok()) {
    KillAndReap(child.pidfd);
    return Annotate(console.status(), StrCat("exec in container ", id));
  }
  ExecResult out;
  out.pid = child.pidfd.pid();
  if (*console && !o.console_socket.empty()) {
    absl::Status s = SendConsole(o.console_socket, console->get(), id);
    if (!s.ok()) {
      KillAndReap(child.pidfd);
      return s;
    }
  } else {
    out.console = std::move(*console);
  }
  if (!o.pid_file.empty()) {
    absl::Status s = ReplaceFile(o.pid_file, StrCat(out.pid), 0644);
    if (!s.ok()) {
      KillAndReap(child.pidfd);
      return s;
    }
  }
  out.pidfd = std::move(child.pidfd);
  return out;
}

}  // namespace cricket::runtime
