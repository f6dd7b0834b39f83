// ValidateSpec: the MUST rules of config.md and config-linux.md (v1.2.1) that can be checked without
// touching the host. Rules that need the host (does a namespace path hold a namespace of that type,
// does the rootfs directory exist) belong to the runtime.
#include <algorithm>
#include <array>
#include <set>

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/json_reader.h"
#include "lib/oci/spec.h"

namespace cricket::oci {

using json::FieldPath;
using json::IndexPath;
using json::KeyPath;
using json::PathError;

namespace {

// Linux rlimits (getrlimit(2)); anything else "cannot be mapped to a relevant kernel interface".
constexpr std::array<std::string_view, 16> kRlimits = {
    "RLIMIT_AS",      "RLIMIT_CORE",     "RLIMIT_CPU",        "RLIMIT_DATA",   "RLIMIT_FSIZE", "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",       "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
    "RLIMIT_RTPRIO",  "RLIMIT_RTTIME",   "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
constexpr std::array<std::string_view, 7> kSchedPolicies = {
    "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"};
constexpr std::array<std::string_view, 7> kSchedFlags = {
    "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM",     "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",   "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX"};
constexpr std::array<std::string_view, 3> kIoPrioClasses = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
                                                            "IOPRIO_CLASS_IDLE"};
// The spec lists shared, slave, private and unbindable; the recursive spellings are accepted too
// because runc accepts them and CRI implementations have written them.
constexpr std::array<std::string_view, 8> kPropagations = {"shared",  "slave",  "private",  "unbindable",
                                                           "rshared", "rslave", "rprivate", "runbindable"};
constexpr std::array<std::string_view, 7> kMemPolicyModes = {
    "MPOL_DEFAULT",   "MPOL_BIND",           "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"};
constexpr std::array<std::string_view, 3> kMemPolicyFlags = {"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES",
                                                             "MPOL_F_STATIC_NODES"};
constexpr std::array<std::string_view, 3> kSeccompFlags = {
    "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
constexpr std::array<std::string_view, 23> kSeccompArches = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB"};

template <size_t N>
bool OneOf(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

template <size_t N>
absl::Status CheckOneOf(const std::array<std::string_view, N>& set, std::string_view v, std::string_view path,
                        std::string_view what) {
  if (OneOf(set, v)) return absl::OkStatus();
  return PathError(path, StrCat("unknown ", what, " \"", v, "\""));
}

bool IsAbsolute(std::string_view p) { return !p.empty() && p[0] == '/'; }

absl::Status CheckAbsolute(std::string_view p, std::string_view path) {
  if (IsAbsolute(p)) return absl::OkStatus();
  return PathError(path, StrCat("must be an absolute path, got \"", p, "\""));
}

// SemVer 2.0.0: MAJOR.MINOR.PATCH with numeric parts (no leading zeros), optional -prerelease and
// +build made of [0-9A-Za-z-.] identifiers.
bool IsSemVer(std::string_view v) {
  size_t end = v.find_first_of("-+");
  std::string_view core = v.substr(0, end);
  std::vector<std::string_view> parts = Split(core, '.');
  if (parts.size() != 3) return false;
  for (std::string_view p : parts) {
    if (p.empty() || (p.size() > 1 && p[0] == '0')) return false;
    if (!std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  }
  if (end == std::string_view::npos) return true;
  std::string_view rest = v.substr(end + 1);
  if (rest.empty()) return false;
  for (std::string_view ident : Split(rest, '.')) {
    // A "+" may follow a pre-release; split it off as one more identifier boundary.
    for (std::string_view piece : Split(ident, '+')) {
      if (piece.empty()) return false;
      for (char c : piece) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
      }
    }
  }
  return true;
}

bool HasOption(const Mount& m, std::string_view opt) {
  return std::find(m.options.begin(), m.options.end(), opt) != m.options.end();
}

absl::Status ValidateMount(const Mount& m, const std::string& path, bool has_userns) {
  if (m.destination.empty()) return PathError(FieldPath(path, "destination"), "must not be empty");
  if (m.uid_mappings.empty() != m.gid_mappings.empty()) {
    return PathError(path, "uidMappings and gidMappings must be specified together");
  }
  if ((HasOption(m, "idmap") || HasOption(m, "ridmap")) && m.uid_mappings.empty() && !has_userns) {
    return PathError(path, "idmap mount without uidMappings/gidMappings needs a user namespace");
  }
  return absl::OkStatus();
}

absl::Status ValidateHooks(const Hooks& hooks) {
  const std::pair<const char*, const std::vector<Hook>*> lists[] = {
      {"prestart", &hooks.prestart},
      {"createRuntime", &hooks.create_runtime},
      {"createContainer", &hooks.create_container},
      {"startContainer", &hooks.start_container},
      {"poststart", &hooks.poststart},
      {"poststop", &hooks.poststop}};
  for (const auto& [name, list] : lists) {
    for (size_t i = 0; i < list->size(); ++i) {
      std::string path = IndexPath(FieldPath("hooks", name), i);
      const Hook& h = (*list)[i];
      RETURN_IF_ERROR(CheckAbsolute(h.path, FieldPath(path, "path")));
      if (h.timeout && *h.timeout <= 0)
        return PathError(FieldPath(path, "timeout"), "must be greater than zero");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDevices(const Linux& l) {
  for (size_t i = 0; i < l.devices.size(); ++i) {
    std::string path = IndexPath("linux.devices", i);
    const Device& d = l.devices[i];
    RETURN_IF_ERROR(CheckAbsolute(d.path, FieldPath(path, "path")));
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p") {
      return PathError(FieldPath(path, "type"), StrCat("must be c, b, u or p, got \"", d.type, "\""));
    }
    if (d.file_mode && *d.file_mode > 07777) {
      return PathError(FieldPath(path, "fileMode"), "must hold permission bits only (at most 07777)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateResources(const LinuxResources& r, const std::string& path) {
  for (size_t i = 0; i < r.devices.size(); ++i) {
    const DeviceCgroupRule& d = r.devices[i];
    std::string p = IndexPath(FieldPath(path, "devices"), i);
    if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b") {
      return PathError(FieldPath(p, "type"), StrCat("must be a, c or b, got \"", d.type, "\""));
    }
    if (d.access.find_first_not_of("rwm") != std::string::npos) {
      return PathError(FieldPath(p, "access"), StrCat("must be made of r, w and m, got \"", d.access, "\""));
    }
  }
  if (r.cpu && r.cpu->burst && r.cpu->quota && *r.cpu->quota > 0 &&
      *r.cpu->burst > static_cast<uint64_t>(*r.cpu->quota)) {
    return PathError(FieldPath(path, "cpu.burst"), "must not be larger than a positive quota");
  }
  if (r.block_io) {
    for (size_t i = 0; i < r.block_io->weight_device.size(); ++i) {
      const WeightDevice& w = r.block_io->weight_device[i];
      if (!w.weight && !w.leaf_weight) {
        return PathError(IndexPath(FieldPath(path, "blockIO.weightDevice"), i),
                         "at least one of weight and leafWeight is required");
      }
    }
  }
  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    if (r.hugepage_limits[i].page_size.empty()) {
      return PathError(FieldPath(IndexPath(FieldPath(path, "hugepageLimits"), i), "pageSize"),
                       "must not be empty");
    }
  }
  for (const auto& [dev, lim] : r.rdma) {
    if (!lim.hca_handles && !lim.hca_objects) {
      return PathError(KeyPath(FieldPath(path, "rdma"), dev),
                       "at least one of hcaHandles and hcaObjects is required");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateLinuxSeccomp(const LinuxSeccomp& s, std::string_view path) {
  if (s.default_errno_ret && !SeccompActionTakesErrno(s.default_action)) {
    return PathError(FieldPath(path, "defaultErrnoRet"),
                     StrCat("not allowed with defaultAction ", SeccompActionName(s.default_action)));
  }
  for (size_t i = 0; i < s.architectures.size(); ++i) {
    RETURN_IF_ERROR(CheckOneOf(kSeccompArches, s.architectures[i],
                               IndexPath(FieldPath(path, "architectures"), i), "seccomp architecture"));
  }
  for (size_t i = 0; i < s.flags.size(); ++i) {
    RETURN_IF_ERROR(
        CheckOneOf(kSeccompFlags, s.flags[i], IndexPath(FieldPath(path, "flags"), i), "seccomp flag"));
  }
  if (!s.listener_metadata.empty() && s.listener_path.empty()) {
    return PathError(FieldPath(path, "listenerMetadata"), "must not be set without listenerPath");
  }
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const SeccompSyscall& sc = s.syscalls[i];
    std::string p = IndexPath(FieldPath(path, "syscalls"), i);
    if (sc.names.empty()) return PathError(FieldPath(p, "names"), "must contain at least one entry");
    if (sc.errno_ret && !SeccompActionTakesErrno(sc.action)) {
      return PathError(FieldPath(p, "errnoRet"),
                       StrCat("not allowed with action ", SeccompActionName(sc.action)));
    }
    for (size_t a = 0; a < sc.args.size(); ++a) {
      if (sc.args[a].index > 5) {
        return PathError(FieldPath(IndexPath(FieldPath(p, "args"), a), "index"), "must be between 0 and 5");
      }
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status ValidateLinuxMisc(const Linux& l) {
  for (const auto& [clock, off] : l.time_offsets) {
    if (clock != "monotonic" && clock != "boottime") {
      return PathError(KeyPath("linux.timeOffsets", clock), "unknown clock (monotonic or boottime)");
    }
    if (off.nanosecs >= 1000000000u) {
      return PathError(FieldPath(KeyPath("linux.timeOffsets", clock), "nanosecs"),
                       "must be below 1000000000");
    }
  }
  if (!l.rootfs_propagation.empty()) {
    RETURN_IF_ERROR(
        CheckOneOf(kPropagations, l.rootfs_propagation, "linux.rootfsPropagation", "propagation"));
  }
  for (size_t i = 0; i < l.masked_paths.size(); ++i) {
    RETURN_IF_ERROR(CheckAbsolute(l.masked_paths[i], IndexPath("linux.maskedPaths", i)));
  }
  for (size_t i = 0; i < l.readonly_paths.size(); ++i) {
    RETURN_IF_ERROR(CheckAbsolute(l.readonly_paths[i], IndexPath("linux.readonlyPaths", i)));
  }
  if (l.personality) {
    if (l.personality->domain != "LINUX" && l.personality->domain != "LINUX32") {
      return PathError("linux.personality.domain",
                       StrCat("must be LINUX or LINUX32, got \"", l.personality->domain, "\""));
    }
    if (!l.personality->flags.empty()) {
      return PathError("linux.personality.flags", "no personality flags are supported");
    }
  }
  if (l.intel_rdt && !l.intel_rdt->mem_bw_schema.empty()) {
    const std::string& mb = l.intel_rdt->mem_bw_schema;
    if (mb.rfind("MB:", 0) != 0 || mb.find('\n') != std::string::npos) {
      return PathError("linux.intelRdt.memBwSchema", "must start with \"MB:\" and hold no newline");
    }
  }
  if (l.memory_policy) {
    RETURN_IF_ERROR(
        CheckOneOf(kMemPolicyModes, l.memory_policy->mode, "linux.memoryPolicy.mode", "memory policy mode"));
    for (size_t i = 0; i < l.memory_policy->flags.size(); ++i) {
      RETURN_IF_ERROR(CheckOneOf(kMemPolicyFlags, l.memory_policy->flags[i],
                                 IndexPath("linux.memoryPolicy.flags", i), "memory policy flag"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLinux(const Linux& l) {
  std::set<NamespaceType> seen;
  for (size_t i = 0; i < l.namespaces.size(); ++i) {
    const Namespace& ns = l.namespaces[i];
    std::string path = IndexPath("linux.namespaces", i);
    if (!seen.insert(ns.type).second) {
      return PathError(path, StrCat("duplicate namespace type \"", NamespaceTypeName(ns.type), "\""));
    }
    if (!ns.path.empty()) RETURN_IF_ERROR(CheckAbsolute(ns.path, FieldPath(path, "path")));
  }
  RETURN_IF_ERROR(ValidateDevices(l));
  if (l.resources) RETURN_IF_ERROR(ValidateResources(*l.resources, "linux.resources"));
  if (l.seccomp) RETURN_IF_ERROR(ValidateLinuxSeccomp(*l.seccomp));
  return ValidateLinuxMisc(l);
}

}  // namespace

absl::Status ValidateProcess(const Process& p, std::string_view path) {
  RETURN_IF_ERROR(CheckAbsolute(p.cwd, FieldPath(path, "cwd")));
  if (p.args.empty()) return PathError(FieldPath(path, "args"), "must contain at least one entry");
  std::set<std::string> types;
  for (size_t i = 0; i < p.rlimits.size(); ++i) {
    const Rlimit& r = p.rlimits[i];
    std::string rp = IndexPath(FieldPath(path, "rlimits"), i);
    RETURN_IF_ERROR(CheckOneOf(kRlimits, r.type, FieldPath(rp, "type"), "rlimit"));
    if (!types.insert(r.type).second) return PathError(rp, StrCat("duplicate rlimit type ", r.type));
    if (r.soft > r.hard) return PathError(rp, "soft limit exceeds hard limit");
  }
  if (p.scheduler) {
    std::string sp = FieldPath(path, "scheduler");
    RETURN_IF_ERROR(
        CheckOneOf(kSchedPolicies, p.scheduler->policy, FieldPath(sp, "policy"), "scheduler policy"));
    for (size_t i = 0; i < p.scheduler->flags.size(); ++i) {
      RETURN_IF_ERROR(CheckOneOf(kSchedFlags, p.scheduler->flags[i], IndexPath(FieldPath(sp, "flags"), i),
                                 "scheduler flag"));
    }
  }
  if (p.io_priority) {
    std::string ip = FieldPath(path, "ioPriority");
    RETURN_IF_ERROR(
        CheckOneOf(kIoPrioClasses, p.io_priority->io_class, FieldPath(ip, "class"), "I/O priority class"));
    if (p.io_priority->priority < 0 || p.io_priority->priority > 7) {
      return PathError(FieldPath(ip, "priority"), "must be between 0 and 7");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSpec(const Spec& spec) {
  if (!IsSemVer(spec.oci_version)) {
    return PathError("ociVersion", StrCat("must be a SemVer 2.0.0 version, got \"", spec.oci_version, "\""));
  }
  if (!spec.root) return PathError("root", "required on Linux");
  if (spec.root->path.empty()) return PathError("root.path", "must not be empty");
  bool has_userns = spec.linux && spec.linux->FindNamespace(NamespaceType::kUser) != nullptr;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    RETURN_IF_ERROR(ValidateMount(spec.mounts[i], IndexPath("mounts", i), has_userns));
  }
  if (spec.process) RETURN_IF_ERROR(ValidateProcess(*spec.process, "process"));
  if (spec.hooks) RETURN_IF_ERROR(ValidateHooks(*spec.hooks));
  if (spec.linux) RETURN_IF_ERROR(ValidateLinux(*spec.linux));
  return absl::OkStatus();
}

}  // namespace cricket::oci
