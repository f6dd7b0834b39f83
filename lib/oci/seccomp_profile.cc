// Parsing and rendering of docker/containers-format seccomp profiles. The RuntimeDefault data is in
// seccomp_default.cc.
#include "lib/oci/seccomp_profile.h"

#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"
#include "lib/oci/json_reader.h"

namespace cricket::oci {

using json::Json;
using json::Object;

namespace {

// docker arch name ↔ libseccomp architecture.
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kPlatformArches = {{
    {"x86", "SCMP_ARCH_X86"},
    {"amd64", "SCMP_ARCH_X86_64"},
    {"x32", "SCMP_ARCH_X32"},
    {"arm", "SCMP_ARCH_ARM"},
    {"arm64", "SCMP_ARCH_AARCH64"},
    {"loongarch64", "SCMP_ARCH_LOONGARCH64"},
    {"mips64", "SCMP_ARCH_MIPS64"},
    {"mips64n32", "SCMP_ARCH_MIPS64N32"},
    {"mipsel64", "SCMP_ARCH_MIPSEL64"},
    {"mipsel64n32", "SCMP_ARCH_MIPSEL64N32"},
    {"mipsel", "SCMP_ARCH_MIPSEL"},
    {"ppc", "SCMP_ARCH_PPC"},
    {"ppc64", "SCMP_ARCH_PPC64"},
    {"ppc64le", "SCMP_ARCH_PPC64LE"},
    {"s390", "SCMP_ARCH_S390"},
    {"s390x", "SCMP_ARCH_S390X"},
}};

// uname(2) machine → docker arch name.
std::string PlatformArchOfMachine(std::string_view machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine.size() == 4 && machine[0] == 'i' && machine.substr(2) == "86") return "x86";
  if (machine.substr(0, 3) == "arm") return "arm";
  if (machine == "mips64") return "mips64";
  if (machine == "loongarch64") return "loongarch64";
  return std::string(machine);  // ppc64le, ppc64, s390x, s390, riscv64 are spelled alike
}

// Errno names accepted in "errno"/"defaultErrno" (the ones seccomp profiles use in practice).
constexpr std::array<std::pair<std::string_view, int>, 22> kErrnoNames = {{
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"ESRCH", ESRCH},
    {"EINTR", EINTR},
    {"EIO", EIO},
    {"ENXIO", ENXIO},
    {"E2BIG", E2BIG},
    {"EBADF", EBADF},
    {"EAGAIN", EAGAIN},
    {"ENOMEM", ENOMEM},
    {"EACCES", EACCES},
    {"EFAULT", EFAULT},
    {"EBUSY", EBUSY},
    {"EEXIST", EEXIST},
    {"ENODEV", ENODEV},
    {"EINVAL", EINVAL},
    {"ENOTTY", ENOTTY},
    {"ENOSPC", ENOSPC},
    {"EROFS", EROFS},
    {"ENOSYS", ENOSYS},
    {"EOPNOTSUPP", EOPNOTSUPP},
    {"EAFNOSUPPORT", EAFNOSUPPORT},
}};

// Reads "errnoRet" (a number) or, failing that, `name_key` (an errno name).
absl::Status ReadErrno(const Object& o, std::string_view ret_key, std::string_view name_key,
                       std::optional<uint32_t>* out) {
  if (o.Has(ret_key)) return o.Opt(ret_key, out);
  if (!o.Has(name_key)) return absl::OkStatus();
  std::string name;
  RETURN_IF_ERROR(o.Opt(name_key, &name));
  for (const auto& [n, value] : kErrnoNames) {
    if (n == name) {
      *out = static_cast<uint32_t>(value);
      return absl::OkStatus();
    }
  }
  return json::PathError(o.PathOf(name_key), StrCat("unknown errno name \"", name, "\""));
}

absl::Status ReadAction(const Object& o, std::string_view key, SeccompAction* out) {
  std::string name;
  RETURN_IF_ERROR(o.Req(key, &name));
  std::optional<SeccompAction> a = ParseSeccompAction(name);
  if (!a) return json::PathError(o.PathOf(key), StrCat("unknown seccomp action \"", name, "\""));
  *out = *a;
  return absl::OkStatus();
}

absl::Status ReadArg(const Json& v, const std::string& path, SeccompArg* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("index", &out->index));
  RETURN_IF_ERROR(o.Req("value", &out->value));
  RETURN_IF_ERROR(o.Opt("valueTwo", &out->value_two));
  std::string op;
  RETURN_IF_ERROR(o.Req("op", &op));
  std::optional<SeccompOperator> parsed = ParseSeccompOperator(op);
  if (!parsed) return json::PathError(o.PathOf("op"), StrCat("unknown seccomp operator \"", op, "\""));
  out->op = *parsed;
  return absl::OkStatus();
}

absl::Status ReadFilter(const Json& v, const std::string& path, SeccompProfileFilter* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.OptArray("caps", &out->caps));
  RETURN_IF_ERROR(o.OptArray("arches", &out->arches));
  std::string min_kernel;
  RETURN_IF_ERROR(o.Opt("minKernel", &min_kernel));
  if (!min_kernel.empty()) {
    absl::StatusOr<KernelVersion> k = ParseKernelVersion(min_kernel);
    if (!k.ok() || (k->major == 0 && k->minor == 0)) {
      return json::PathError(o.PathOf("minKernel"), StrCat("invalid kernel version \"", min_kernel,
                                                           "\", expected \"<major>.<minor>\""));
    }
    out->min_kernel = *k;
  }
  return absl::OkStatus();
}

absl::Status ReadSyscallRule(const Json& v, const std::string& path, SeccompProfileSyscall* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  bool has_name = o.Has("name");
  bool has_names = o.Has("names");
  if (has_name && has_names) return json::PathError(path, "both \"name\" and \"names\" are set; use one");
  if (!has_name && !has_names) return o.Missing("names");
  if (has_name) {
    out->names.emplace_back();
    RETURN_IF_ERROR(o.Req("name", &out->names.back()));
  } else {
    RETURN_IF_ERROR(o.OptArray("names", &out->names));
  }
  RETURN_IF_ERROR(ReadAction(o, "action", &out->action));
  RETURN_IF_ERROR(ReadErrno(o, "errnoRet", "errno", &out->errno_ret));
  RETURN_IF_ERROR(o.OptArray("args", &out->args, ReadArg));
  std::optional<SeccompProfileFilter> includes, excludes;
  RETURN_IF_ERROR(o.OptObject("includes", &includes, ReadFilter));
  RETURN_IF_ERROR(o.OptObject("excludes", &excludes, ReadFilter));
  if (includes) out->includes = std::move(*includes);
  if (excludes) out->excludes = std::move(*excludes);
  if (out->names.empty()) return json::PathError(o.PathOf("names"), "must contain at least one entry");
  if (out->errno_ret && !SeccompActionTakesErrno(out->action)) {
    return json::PathError(o.PathOf("errnoRet"),
                           StrCat("not allowed with action ", SeccompActionName(out->action)));
  }
  for (size_t i = 0; i < out->args.size(); ++i) {
    if (out->args[i].index > 5) {
      return json::PathError(json::FieldPath(json::IndexPath(o.PathOf("args"), i), "index"),
                             "must be between 0 and 5");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadArchMapEntry(const Json& v, const std::string& path, SeccompArchMapEntry* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("architecture", &out->architecture));
  return o.OptArray("subArchitectures", &out->sub_architectures);
}

bool Contains(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// Capability names compare by number when known ("sys_admin" == "CAP_SYS_ADMIN"), else as written.
bool HasCap(const std::vector<std::string>& bounding, std::string_view cap) {
  std::optional<int> n = CapabilityNumber(cap);
  for (const std::string& b : bounding) {
    if (n ? CapabilityNumber(b) == n : b == cap) return true;
  }
  return false;
}

// Whether rule `r` applies to a container with `caps` on `platform` (see the header for the rules).
bool RuleApplies(const SeccompProfileSyscall& r, const std::vector<std::string>& caps,
                 const SeccompPlatform& platform) {
  const SeccompProfileFilter& ex = r.excludes;
  if (Contains(ex.arches, platform.arch)) return false;
  for (const std::string& c : ex.caps) {
    if (HasCap(caps, c)) return false;
  }
  if (ex.min_kernel && platform.kernel >= *ex.min_kernel) return false;
  const SeccompProfileFilter& in = r.includes;
  if (!in.arches.empty() && !Contains(in.arches, platform.arch)) return false;
  for (const std::string& c : in.caps) {
    if (!HasCap(caps, c)) return false;
  }
  if (in.min_kernel && platform.kernel < *in.min_kernel) return false;
  return true;
}

}  // namespace

absl::StatusOr<KernelVersion> ParseKernelVersion(std::string_view release) {
  std::vector<std::string_view> parts = Split(release, '.');
  if (parts.size() < 2) return absl::InvalidArgumentError(StrCat("invalid kernel version \"", release, "\""));
  // The minor part may carry a suffix when there is no patch level ("5.10-rc1").
  std::string_view minor = parts[1];
  size_t digits = 0;
  while (digits < minor.size() && minor[digits] >= '0' && minor[digits] <= '9') ++digits;
  std::optional<int64_t> major_n = ParseInt64(parts[0]);
  std::optional<int64_t> minor_n = ParseInt64(minor.substr(0, digits));
  if (!major_n || !minor_n || *major_n > 1000 || *minor_n > 1000) {
    return absl::InvalidArgumentError(StrCat("invalid kernel version \"", release, "\""));
  }
  return KernelVersion{static_cast<int>(*major_n), static_cast<int>(*minor_n)};
}

absl::StatusOr<SeccompPlatform> HostSeccompPlatform() {
  struct utsname u;
  if (::uname(&u) != 0) return ErrnoError("uname", "");
  SeccompPlatform p;
  p.arch = PlatformArchOfMachine(u.machine);
  ASSIGN_OR_RETURN(p.kernel, ParseKernelVersion(u.release));
  return p;
}

std::string_view ScmpArchOfPlatformArch(std::string_view arch) {
  if (arch == "riscv64") return "SCMP_ARCH_RISCV64";
  for (const auto& [name, scmp] : kPlatformArches) {
    if (name == arch) return scmp;
  }
  return "";
}

absl::StatusOr<SeccompProfile> ParseSeccompProfile(const Json& v) {
  SeccompProfile p;
  ASSIGN_OR_RETURN(Object o, Object::Of(v, ""));
  RETURN_IF_ERROR(ReadAction(o, "defaultAction", &p.default_action));
  RETURN_IF_ERROR(ReadErrno(o, "defaultErrnoRet", "defaultErrno", &p.default_errno_ret));
  RETURN_IF_ERROR(o.OptArray("architectures", &p.architectures));
  RETURN_IF_ERROR(o.OptArray("archMap", &p.arch_map, ReadArchMapEntry));
  RETURN_IF_ERROR(o.OptArray("flags", &p.flags));
  RETURN_IF_ERROR(o.Opt("listenerPath", &p.listener_path));
  RETURN_IF_ERROR(o.Opt("listenerMetadata", &p.listener_metadata));
  RETURN_IF_ERROR(o.OptArray("syscalls", &p.syscalls, ReadSyscallRule));
  if (p.default_errno_ret && !SeccompActionTakesErrno(p.default_action)) {
    return json::PathError("defaultErrnoRet",
                           StrCat("not allowed with defaultAction ", SeccompActionName(p.default_action)));
  }
  return p;
}

absl::StatusOr<SeccompProfile> ParseSeccompProfileText(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(Json v, ParseJson(text, what));
  absl::StatusOr<SeccompProfile> p = ParseSeccompProfile(v);
  if (!p.ok()) return Annotate(p.status(), what);
  return p;
}

absl::StatusOr<SeccompProfile> LoadSeccompProfileFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseSeccompProfileText(text, path);
}

absl::StatusOr<LinuxSeccomp> RenderSeccompProfile(const SeccompProfile& profile,
                                                  const std::vector<std::string>& bounding_caps,
                                                  const SeccompPlatform& platform) {
  if (!profile.architectures.empty() && !profile.arch_map.empty()) {
    return absl::InvalidArgumentError(
        "seccomp profile sets both \"architectures\" and \"archMap\"; use one of them");
  }
  LinuxSeccomp out;
  out.default_action = profile.default_action;
  out.default_errno_ret = profile.default_errno_ret;
  out.architectures = profile.architectures;
  out.flags = profile.flags;
  out.listener_path = profile.listener_path;
  out.listener_metadata = profile.listener_metadata;
  std::string_view native = ScmpArchOfPlatformArch(platform.arch);
  for (const SeccompArchMapEntry& e : profile.arch_map) {
    if (e.architecture != native) continue;
    out.architectures.push_back(e.architecture);
    out.architectures.insert(out.architectures.end(), e.sub_architectures.begin(), e.sub_architectures.end());
    break;
  }
  for (const SeccompProfileSyscall& r : profile.syscalls) {
    if (!RuleApplies(r, bounding_caps, platform)) continue;
    SeccompSyscall s;
    s.names = r.names;
    s.action = r.action;
    s.errno_ret = r.errno_ret;
    s.args = r.args;
    out.syscalls.push_back(std::move(s));
  }
  RETURN_IF_ERROR(ValidateLinuxSeccomp(out, "seccomp profile"));
  return out;
}

absl::StatusOr<LinuxSeccomp> RenderRuntimeDefaultSeccomp(const std::vector<std::string>& bounding_caps,
                                                         const SeccompPlatform& platform) {
  return RenderSeccompProfile(RuntimeDefaultSeccompProfile(), bounding_caps, platform);
}

}  // namespace cricket::oci
