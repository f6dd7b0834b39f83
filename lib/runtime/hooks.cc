#include "lib/runtime/hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "absl/time/time.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/spawn.h"
#include "lib/sys/subprocess.h"

namespace cricket::runtime {
namespace {

std::string HookName(std::string_view kind, size_t i, const oci::Hook& h) {
  return StrCat(kind, " hook #", i, " (", h.path, ")");
}

int TimeoutMs(const oci::Hook& h, int default_timeout_ms) {
  return h.timeout ? *h.timeout * 1000 : default_timeout_ms;
}

absl::Status RunOne(const oci::Hook& h, const std::string& name, const std::string& state_json,
                    int timeout_ms) {
  sys::Command cmd;
  cmd.path = h.path;
  cmd.args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  cmd.env = h.env;
  sys::RunOptions opts;
  opts.stdin_data = state_json;
  opts.timeout = absl::Milliseconds(timeout_ms);
  auto result = sys::RunProcess(cmd, opts);
  if (!result.ok()) return Annotate(result.status(), name);
  if (result->timed_out)
    return absl::DeadlineExceededError(StrCat(name, ": timed out after ", timeout_ms / 1000, "s"));
  if (!result->status.success()) {
    return absl::InternalError(StrCat(name, ": ", result->status.ToString(),
                                      result->stderr_data.empty() ? "" : ": ",
                                      TrimSpace(result->stderr_data)));
  }
  return absl::OkStatus();
}

// Writes `data` to `fd` (a pipe to the hook's stdin), giving up when the reader is gone.
void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

absl::Status RunOneInContainer(const oci::Hook& h, const std::string& name, const std::string& state_json,
                               const sys::PidFd& init, uint64_t ns_flags, int timeout_ms) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoError("create", "pipe");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  ExecPlan plan;
  plan.init_pidfd = init.get();
  plan.ns_flags = ns_flags;
  plan.set_credentials = false;
  plan.process.args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  plan.process.env = h.env;
  plan.process.exec_candidates.push_back(h.path);
  plan.process.stdio[0] = rd.get();
  plan.process.stdio[1] = STDERR_FILENO;
  plan.process.stdio[2] = STDERR_FILENO;
  plan.process.Finalize();
  ASSIGN_OR_RETURN(SetupChild child, SpawnExec(plan, timeout_ms));
  rd.reset();
  absl::Status status = SyncContinue(child.sync.get());
  while (status.ok()) {
    auto msg = SyncReceive(child.sync.get(), timeout_ms);
    if (!msg.ok()) {
      if (!absl::IsAborted(msg.status())) status = Annotate(msg.status(), name);
      break;  // Aborted is EOF: the hook has been exec'd
    }
    if (msg->msg.type == static_cast<uint32_t>(SyncType::kError)) {
      status = absl::InternalError(StrCat(name, ": ", DescribeError(msg->msg)));
    }
  }
  if (!status.ok()) {
    KillAndReap(child.pidfd);
    return status;
  }
  WriteAll(wr.get(), state_json);
  wr.reset();
  auto exited = child.pidfd.WaitExited(timeout_ms);
  if (!exited.ok() || !*exited) {
    KillAndReap(child.pidfd);
    return absl::DeadlineExceededError(StrCat(name, ": timed out after ", timeout_ms / 1000, "s"));
  }
  ASSIGN_OR_RETURN(auto ws, child.pidfd.Reap());
  if (ws && sys::ShellExitCode(*ws) != 0) {
    return absl::InternalError(StrCat(name, ": exit status ", sys::ShellExitCode(*ws)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunHooks(const std::vector<oci::Hook>& hooks, std::string_view kind,
                      const std::string& state_json, int default_timeout_ms) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string name = HookName(kind, i, hooks[i]);
    log::Debug("runtime", "running hook", {{"hook", name}});
    RETURN_IF_ERROR(RunOne(hooks[i], name, state_json, TimeoutMs(hooks[i], default_timeout_ms)));
  }
  return absl::OkStatus();
}

void RunHooksWarnOnly(const std::vector<oci::Hook>& hooks, std::string_view kind,
                      const std::string& state_json, int default_timeout_ms,
                      const std::string& container_id) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string name = HookName(kind, i, hooks[i]);
    absl::Status s = RunOne(hooks[i], name, state_json, TimeoutMs(hooks[i], default_timeout_ms));
    if (!s.ok()) log::Warn("runtime", "hook failed", {{"id", container_id}, {"error", s}});
  }
}

absl::Status RunHooksInContainer(const std::vector<oci::Hook>& hooks, std::string_view kind,
                                 const std::string& state_json, const sys::PidFd& init, uint64_t ns_flags,
                                 int default_timeout_ms) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string name = HookName(kind, i, hooks[i]);
    log::Debug("runtime", "running hook in the container", {{"hook", name}});
    RETURN_IF_ERROR(RunOneInContainer(hooks[i], name, state_json, init, ns_flags,
                                      TimeoutMs(hooks[i], default_timeout_ms)));
  }
  return absl::OkStatus();
}

}  // namespace cricket::runtime
