// update (resources from a JSON file and/or flags) and features (runtime-spec features.md).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/cricket-runtime/commands.h"
#include "cmd/cricket-runtime/flags.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"

namespace cricket::cli {

absl::StatusOr<int64_t> ParseBytes(const std::string& s) {
  std::string v = ToLower(TrimSpace(s));
  if (v == "-1") return -1;
  if (v.ends_with("b")) v.pop_back();
  int64_t mult = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 'k':
        mult = int64_t{1} << 10;
        break;
      case 'm':
        mult = int64_t{1} << 20;
        break;
      case 'g':
        mult = int64_t{1} << 30;
        break;
      case 't':
        mult = int64_t{1} << 40;
        break;
      default:
        break;
    }
  }
  if (mult != 1) v.pop_back();
  auto n = ParseInt64(v);
  if (!n || *n < 0) return absl::InvalidArgumentError(StrCat("invalid size \"", s, "\""));
  return *n * mult;
}

absl::StatusOr<int> CmdUpdate(runtime::Runtime& rt, const Args& args, size_t begin) {
  static const std::vector<FlagSpec> kFlags = {
      {"resources", "r", false},    {"memory", "", false},         {"memory-reservation", "", false},
      {"memory-swap", "", false},   {"kernel-memory", "", false},  {"kernel-memory-tcp", "", false},
      {"cpu-shares", "", false},    {"cpu-quota", "", false},      {"cpu-period", "", false},
      {"cpu-rt-period", "", false}, {"cpu-rt-runtime", "", false}, {"cpuset-cpus", "", false},
      {"cpuset-mems", "", false},   {"pids-limit", "", false},     {"blkio-weight", "", false},
      {"cpu-idle", "", false}};
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, kFlags));
  if (p.positional.size() != 1) return absl::InvalidArgumentError("\"update\" requires the container id");
  oci::LinuxResources r;
  if (p.Has("resources")) {
    std::string path = p.Get("resources");
    ASSIGN_OR_RETURN(std::string text, ReadFile(path == "-" ? "/dev/stdin" : path));
    ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, path));
    ASSIGN_OR_RETURN(r, oci::ParseLinuxResources(j, ""));
  }
  auto u64 = [&](const std::string& flag) -> absl::StatusOr<std::optional<uint64_t>> {
    if (!p.Has(flag)) return std::optional<uint64_t>();
    auto v = ParseUint64(p.Get(flag));
    if (!v) return absl::InvalidArgumentError(StrCat("--", flag, ": expected a number"));
    return std::optional<uint64_t>(*v);
  };
  auto bytes = [&](const std::string& flag) -> absl::StatusOr<std::optional<int64_t>> {
    if (!p.Has(flag)) return std::optional<int64_t>();
    ASSIGN_OR_RETURN(int64_t v, ParseBytes(p.Get(flag)));
    return std::optional<int64_t>(v);
  };
  ASSIGN_OR_RETURN(auto memory, bytes("memory"));
  ASSIGN_OR_RETURN(auto reservation, bytes("memory-reservation"));
  ASSIGN_OR_RETURN(auto swap, bytes("memory-swap"));
  if (memory || reservation || swap) {
    auto& m = r.memory ? *r.memory : r.memory.emplace();
    if (memory) m.limit = *memory;
    if (reservation) m.reservation = *reservation;
    if (swap) m.swap = *swap;
  }
  ASSIGN_OR_RETURN(auto shares, u64("cpu-shares"));
  ASSIGN_OR_RETURN(auto period, u64("cpu-period"));
  ASSIGN_OR_RETURN(auto rt_period, u64("cpu-rt-period"));
  std::optional<int64_t> quota, rt_runtime, idle;
  for (auto [flag, dst] :
       {std::pair{"cpu-quota", &quota}, {"cpu-rt-runtime", &rt_runtime}, {"cpu-idle", &idle}}) {
    if (!p.Has(flag)) continue;
    auto v = ParseInt64(p.Get(flag));
    if (!v) return absl::InvalidArgumentError(StrCat("--", flag, ": expected a number"));
    *dst = *v;
  }
  if (shares || period || rt_period || quota || rt_runtime || idle || p.Has("cpuset-cpus") ||
      p.Has("cpuset-mems")) {
    auto& c = r.cpu ? *r.cpu : r.cpu.emplace();
    if (shares) c.shares = shares;
    if (period) c.period = period;
    if (quota) c.quota = quota;
    if (rt_period) c.realtime_period = rt_period;
    if (rt_runtime) c.realtime_runtime = rt_runtime;
    if (idle) c.idle = idle;
    if (p.Has("cpuset-cpus")) c.cpus = p.Get("cpuset-cpus");
    if (p.Has("cpuset-mems")) c.mems = p.Get("cpuset-mems");
  }
  if (p.Has("pids-limit")) {
    auto v = ParseInt64(p.Get("pids-limit"));
    if (!v) return absl::InvalidArgumentError("--pids-limit: expected a number");
    r.pids = oci::PidsResources{*v};
  }
  if (p.Has("blkio-weight")) {
    auto v = ParseUint64(p.Get("blkio-weight"));
    if (!v || *v > 1000) return absl::InvalidArgumentError("--blkio-weight: expected 10..1000");
    if (!r.block_io) r.block_io.emplace();
    r.block_io->weight = static_cast<uint16_t>(*v);
  }
  RETURN_IF_ERROR(rt.Update(p.positional[0], r));
  return 0;
}

absl::StatusOr<int> CmdFeatures(const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {}));
  (void)p;
  nlohmann::json caps = nlohmann::json::array();
  for (int c = 0; c <= oci::kLastKnownCap; ++c) caps.push_back(std::string(oci::CapabilityName(c)));
  nlohmann::json j = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", std::string(oci::kOciVersion)},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", {"async",        "atime",       "bind",        "dev",           "diratime",
                        "dirsync",      "exec",        "idmap",       "lazytime",      "loud",
                        "mand",         "noatime",     "nodev",       "nodiratime",    "noexec",
                        "nolazytime",   "nomand",      "norelatime",  "nostrictatime", "nosuid",
                        "nosymfollow",  "private",     "ratime",      "rbind",         "rdev",
                        "rdiratime",    "relatime",    "remount",     "rexec",         "ridmap",
                        "rnoatime",     "rnodev",      "rnodiratime", "rnoexec",       "rnosuid",
                        "rnosymfollow", "ro",          "rprivate",    "rrelatime",     "rro",
                        "rrw",          "rshared",     "rslave",      "rstrictatime",  "rsuid",
                        "rsymfollow",   "runbindable", "rw",          "shared",        "silent",
                        "slave",        "strictatime", "suid",        "symfollow",     "sync",
                        "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}, {"rdma", true}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE"}},
          {"archs",
           {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}},
          {"knownFlags",
           {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
          {"supportedFlags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}}}},
        {"apparmor", {{"enabled", PathExists("/sys/kernel/security/apparmor")}}},
        {"selinux", {{"enabled", PathExists("/sys/fs/selinux/enforce")}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}}}},
      {"annotations", {{"org.opencontainers.runtime-spec.features", "cricket"}}}};
  printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace cricket::cli
