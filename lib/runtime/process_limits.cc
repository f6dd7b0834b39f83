#include "lib/runtime/process_limits.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"

namespace cricket::runtime {
namespace {

struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

}  // namespace

int RlimitResource(std::string_view type) {
  static const std::pair<const char*, int> kLimits[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  for (const auto& [name, r] : kLimits) {
    if (type == name) return r;
  }
  return -1;
}

absl::Status ApplyRlimits(pid_t pid, const std::vector<oci::Rlimit>& rlimits,
                          std::vector<std::string>* warnings) {
  for (const oci::Rlimit& rl : rlimits) {
    int res = RlimitResource(rl.type);
    if (res < 0) return absl::InvalidArgumentError(StrCat("process.rlimits: unknown type \"", rl.type, "\""));
    rlimit want{static_cast<rlim_t>(rl.soft), static_cast<rlim_t>(rl.hard)};
    if (want.rlim_cur > want.rlim_max) {
      return absl::InvalidArgumentError(StrCat("process.rlimits ", rl.type, ": soft limit above hard limit"));
    }
    if (::prlimit(pid, static_cast<__rlimit_resource>(res), &want, nullptr) == 0) continue;
    if (errno != EPERM) return ErrnoError(StrCat("set ", rl.type, " of"), StrCat("process ", pid));
    // Raising the hard limit needs CAP_SYS_RESOURCE: keep the current hard limit.
    rlimit cur{};
    if (::prlimit(pid, static_cast<__rlimit_resource>(res), nullptr, &cur) != 0) {
      return ErrnoError(StrCat("read ", rl.type, " of"), StrCat("process ", pid));
    }
    rlimit clamped{std::min(want.rlim_cur, cur.rlim_max), std::min(want.rlim_max, cur.rlim_max)};
    if (::prlimit(pid, static_cast<__rlimit_resource>(res), &clamped, nullptr) != 0) {
      return ErrnoError(StrCat("set ", rl.type, " of"), StrCat("process ", pid));
    }
    if (warnings) {
      warnings->push_back(StrCat(rl.type, " ", rl.soft, "/", rl.hard,
                                 " not allowed on this host; clamped to ", clamped.rlim_cur, "/",
                                 clamped.rlim_max));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyOomScoreAdj(pid_t pid, int value, std::vector<std::string>* warnings) {
  std::string path = StrCat("/proc/", pid, "/oom_score_adj");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return ErrnoError("open", path);
  std::string v = StrCat(value);
  if (::write(fd.get(), v.data(), v.size()) == static_cast<ssize_t>(v.size())) return absl::OkStatus();
  if (errno != EACCES && errno != EPERM) return ErrnoError(StrCat("write ", value, " to"), path);
  // Lowering below the current minimum needs CAP_SYS_RESOURCE: keep the current value.
  char buf[32] = {};
  ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
  std::string current = n > 0 ? std::string(TrimSpace(std::string_view(buf, static_cast<size_t>(n)))) : "?";
  if (warnings) {
    warnings->push_back(StrCat("oomScoreAdj ", value, " not allowed on this host; kept ", current));
  }
  return absl::OkStatus();
}

absl::Status ApplyScheduler(pid_t pid, const oci::Scheduler& s) {
  static const std::pair<const char*, uint32_t> kPolicies[] = {
      {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},      {"SCHED_BATCH", 3},
      {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
  static const std::pair<const char*, uint64_t> kFlags[] = {
      {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
      {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
      {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
      {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
  SchedAttr attr{};
  attr.size = sizeof(attr);
  bool found = false;
  for (const auto& [n, p] : kPolicies) {
    if (s.policy == n) attr.sched_policy = p, found = true;
  }
  if (!found)
    return absl::InvalidArgumentError(StrCat("process.scheduler: unknown policy \"", s.policy, "\""));
  for (const std::string& f : s.flags) {
    bool known = false;
    for (const auto& [n, v] : kFlags) {
      if (f == n) attr.sched_flags |= v, known = true;
    }
    if (!known) return absl::InvalidArgumentError(StrCat("process.scheduler: unknown flag \"", f, "\""));
  }
  attr.sched_nice = s.nice;
  attr.sched_priority = static_cast<uint32_t>(s.priority);
  attr.sched_runtime = s.runtime;
  attr.sched_deadline = s.deadline;
  attr.sched_period = s.period;
  if (::syscall(SYS_sched_setattr, pid, &attr, 0) != 0)
    return ErrnoError("sched_setattr", StrCat("process ", pid));
  return absl::OkStatus();
}

absl::Status ApplyIoPriority(pid_t pid, const oci::IoPriority& p) {
  int cls = p.io_class == "IOPRIO_CLASS_RT"     ? 1
            : p.io_class == "IOPRIO_CLASS_BE"   ? 2
            : p.io_class == "IOPRIO_CLASS_IDLE" ? 3
                                                : 0;
  if (cls == 0)
    return absl::InvalidArgumentError(StrCat("process.ioPriority: unknown class \"", p.io_class, "\""));
  if (p.priority < 0 || p.priority > 7)
    return absl::InvalidArgumentError("process.ioPriority.priority must be 0..7");
  constexpr int kWhoProcess = 1;
  if (::syscall(SYS_ioprio_set, kWhoProcess, pid, (cls << 13) | p.priority) != 0) {
    return ErrnoError("ioprio_set", StrCat("process ", pid));
  }
  return absl::OkStatus();
}

absl::Status ApplyCpuAffinity(pid_t pid, const std::string& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::string_view part : Split(cpus, ',')) {
    auto range = SplitOnce(part, '-');
    auto lo = ParseUint64(range ? range->first : part);
    auto hi = range ? ParseUint64(range->second) : lo;
    if (!lo || !hi || *lo > *hi || *hi >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(StrCat("process.execCPUAffinity: invalid cpu list \"", cpus, "\""));
    }
    for (uint64_t c = *lo; c <= *hi; ++c) CPU_SET(c, &set);
  }
  if (::sched_setaffinity(pid, sizeof(set), &set) != 0)
    return ErrnoError("sched_setaffinity", StrCat("process ", pid));
  return absl::OkStatus();
}

absl::Status ApplyProcessLimits(pid_t pid, const oci::Process& process, std::vector<std::string>* warnings) {
  RETURN_IF_ERROR(ApplyRlimits(pid, process.rlimits, warnings));
  if (process.oom_score_adj) RETURN_IF_ERROR(ApplyOomScoreAdj(pid, *process.oom_score_adj, warnings));
  if (process.scheduler) RETURN_IF_ERROR(ApplyScheduler(pid, *process.scheduler));
  if (process.io_priority) RETURN_IF_ERROR(ApplyIoPriority(pid, *process.io_priority));
  // config.md "execCPUAffinity" (exec'd processes; the init has none): `final` applies once the
  // process is in the container's cgroup, which is when this runs; `initial` alone otherwise.
  if (process.exec_cpu_affinity) {
    const oci::CpuAffinity& a = *process.exec_cpu_affinity;
    const std::string& cpus = a.final.empty() ? a.initial : a.final;
    if (!cpus.empty()) RETURN_IF_ERROR(ApplyCpuAffinity(pid, cpus));
  }
  return absl::OkStatus();
}

}  // namespace cricket::runtime
