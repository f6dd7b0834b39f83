// The process plan: config.md "Process", "POSIX process", "Linux Process" (credentials, capabilities,
// LSM labels, argv/env and the executable lookup).
#include <fcntl.h>
#include <sys/personality.h>
#include <unistd.h>

#include <algorithm>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"
#include "lib/runtime/plan_builder.h"
#include "lib/sys/secure_path.h"

namespace cricket::runtime {
namespace {

constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Names → mask. Unknown names are an error (a typo must not silently widen or narrow the set);
// capabilities this kernel or this host cannot grant are dropped with a warning, as the spec asks.
absl::StatusOr<uint64_t> CapMask(const std::vector<std::string>& names, std::string_view set,
                                 const PlanContext& ctx) {
  uint64_t mask = 0;
  for (const std::string& name : names) {
    std::optional<int> cap = oci::CapabilityNumber(name);
    if (!cap) {
      return absl::InvalidArgumentError(
          StrCat("process.capabilities.", set, ": unknown capability \"", name, "\""));
    }
    if (*cap > ctx.host.last_cap || *cap >= 64) {
      if (ctx.warnings) {
        ctx.warnings->push_back(StrCat("capability ", name, " is not supported by this kernel; not granted"));
      }
      continue;
    }
    if (!(ctx.host.grantable_caps & (1ULL << *cap))) {
      if (ctx.warnings) {
        ctx.warnings->push_back(
            StrCat("capability ", name, " (", set, ") cannot be granted on this host; not granted"));
      }
      continue;
    }
    mask |= 1ULL << *cap;
  }
  return mask;
}

absl::Status PlanCapabilities(const oci::Process& p, const PlanContext& ctx, ProcessPlan* plan) {
  plan->last_cap = ctx.host.last_cap;
  if (!p.capabilities) return absl::OkStatus();
  const oci::Capabilities& c = *p.capabilities;
  ProcessPlan::Caps caps;
  ASSIGN_OR_RETURN(caps.bounding, CapMask(c.bounding, "bounding", ctx));
  ASSIGN_OR_RETURN(caps.effective, CapMask(c.effective, "effective", ctx));
  ASSIGN_OR_RETURN(caps.permitted, CapMask(c.permitted, "permitted", ctx));
  ASSIGN_OR_RETURN(caps.inheritable, CapMask(c.inheritable, "inheritable", ctx));
  ASSIGN_OR_RETURN(caps.ambient, CapMask(c.ambient, "ambient", ctx));
  if (caps.effective & ~caps.permitted) {
    return absl::InvalidArgumentError("process.capabilities: effective capabilities must also be permitted");
  }
  // An ambient capability must be permitted and inheritable; the kernel refuses others.
  uint64_t bad_ambient = caps.ambient & ~(caps.permitted & caps.inheritable);
  if (bad_ambient != 0) {
    if (ctx.warnings)
      ctx.warnings->push_back("ambient capabilities that are not permitted and inheritable are ignored");
    caps.ambient &= ~bad_ambient;
  }
  plan->caps = caps;
  return absl::OkStatus();
}

absl::Status PlanLsm(const oci::Process& p, const PlanContext& ctx, ProcessPlan* plan) {
  if (!p.apparmor_profile.empty()) {
    if (!ctx.host.apparmor_enabled) {
      return absl::FailedPreconditionError(StrCat("process.apparmorProfile \"", p.apparmor_profile,
                                                  "\" requested but AppArmor is not enabled on this host"));
    }
    plan->lsm_exec_attr_path = "/proc/self/attr/apparmor/exec";
    plan->lsm_exec_attr_value = StrCat("exec ", p.apparmor_profile);
  }
  if (!p.selinux_label.empty()) {
    if (!ctx.host.selinux_enabled) {
      return absl::FailedPreconditionError(StrCat("process.selinuxLabel \"", p.selinux_label,
                                                  "\" requested but SELinux is not enabled on this host"));
    }
    plan->selinux_exec_value = p.selinux_label;
  }
  return absl::OkStatus();
}

}  // namespace

std::string HomeDirectory(const std::string& rootfs, uid_t uid) {
  auto fd = sys::OpenInRootDir(rootfs, "/etc/passwd", O_RDONLY);
  if (!fd.ok()) return "/";
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd->get(), buf, sizeof(buf))) > 0 && text.size() < (1 << 20);) {
    text.append(buf, static_cast<size_t>(n));
  }
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> f = Split(line, ':');
    if (f.size() >= 6 && ParseUint64(f[2]) == std::optional<uint64_t>(uid) && !f[5].empty()) {
      return std::string(f[5]);
    }
  }
  return "/";
}

std::vector<std::string> ExecCandidates(const std::string& arg0, const std::vector<std::string>& env) {
  if (arg0.find('/') != std::string::npos) return {arg0};
  std::string_view path = kDefaultPath;
  for (const std::string& e : env) {
    if (std::string_view(e).starts_with("PATH=")) path = std::string_view(e).substr(5);
  }
  std::vector<std::string> out;
  for (std::string_view dir : Split(path, ':')) {
    // An empty PATH entry means the working directory.
    out.push_back(dir.empty() ? arg0 : JoinPath(dir, arg0));
  }
  return out;
}

void ProcessPlan::Finalize() {
  argv.clear();
  envp.clear();
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
}

absl::StatusOr<ProcessPlan> BuildProcessPlan(const oci::Process& p, const NamespacePlan& ns,
                                             const PlanContext& ctx) {
  ProcessPlan plan;
  if (p.args.empty()) return absl::InvalidArgumentError("process.args must not be empty");
  if (!p.cwd.starts_with("/"))
    return absl::InvalidArgumentError(StrCat("process.cwd must be absolute: ", p.cwd));
  plan.args = p.args;
  plan.env = p.env;
  // Like other runtimes: HOME from the user's passwd entry when the spec does not set it.
  const bool has_home =
      std::any_of(p.env.begin(), p.env.end(), [](const std::string& e) { return e.starts_with("HOME="); });
  if (!has_home && !ctx.rootfs.empty()) plan.env.push_back("HOME=" + HomeDirectory(ctx.rootfs, p.user.uid));
  plan.cwd = CleanPath(p.cwd);
  plan.exec_candidates = ExecCandidates(p.args[0], p.env);
  plan.uid = p.user.uid;
  plan.gid = p.user.gid;
  plan.additional_gids = p.user.additional_gids;
  plan.set_groups = true;
  if (p.user.umask) plan.umask = static_cast<mode_t>(*p.user.umask & 0777);
  plan.no_new_privileges = p.no_new_privileges;
  plan.terminal = p.terminal;
  if (p.terminal && p.console_size) {
    plan.console_rows = static_cast<unsigned short>(p.console_size->height);
    plan.console_cols = static_cast<unsigned short>(p.console_size->width);
  }
  RETURN_IF_ERROR(PlanCapabilities(p, ctx, &plan));
  RETURN_IF_ERROR(PlanLsm(p, ctx, &plan));
  (void)ns;
  plan.Finalize();
  return plan;
}

HostFacts HostFacts::Detect() {
  HostFacts f;
  if (auto last = oci::ReadLastCap(); last.ok()) f.last_cap = *last;
  if (auto status = ReadFile("/proc/self/status"); status.ok()) {
    if (auto sets = oci::ParseProcStatusCaps(*status); sets.ok())
      f.grantable_caps = sets->permitted & sets->bounding;
  }
  auto enabled = ReadFile("/sys/module/apparmor/parameters/enabled", 64);
  f.apparmor_enabled =
      enabled.ok() && TrimSpace(*enabled) == "Y" && PathExists("/sys/kernel/security/apparmor");
  f.selinux_enabled = PathExists("/sys/fs/selinux/enforce");
  f.kcore_exists = PathExists("/proc/kcore");
  std::vector<std::string> devices;
  for (const std::string& d : f.host_devices) {
    if (PathExists(d)) devices.push_back(d);
  }
  f.host_devices = std::move(devices);
  return f;
}

}  // namespace cricket::runtime
