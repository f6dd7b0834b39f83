// Seccomp profiles in the docker/containers JSON format, rendered into the OCI linux.seccomp of one
// container, and cricket's RuntimeDefault profile.
//
// The profile format (used by CRI Localhost profiles, crio.conf `seccomp_profile` and docker's
// --security-opt seccomp=FILE) extends OCI's LinuxSeccomp:
//   {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
//    "architectures": [...]            // or "archMap": [{"architecture": A, "subArchitectures": [...]}]
//    "syscalls": [{"names": [...] | "name": "x", "action": ..., "errnoRet": n, "args": [...],
//                  "includes": {"caps": [...], "arches": [...], "minKernel": "4.8"},
//                  "excludes": {"caps": [...], "arches": [...], "minKernel": "5.0"}}]}
// A rule applies when every `includes` condition holds (all listed caps are in the container's
// bounding set, the host arch is listed, the kernel is at least minKernel) and no `excludes`
// condition holds (none of the listed caps is in the bounding set, the host arch is not listed, the
// kernel is below minKernel). Arches are named as docker names them: amd64, x86, x32, arm64, arm,
// ppc64le, s390x, riscv64, .... With an archMap, the architectures of the entry whose "architecture"
// is the host's native one are used. A file already in OCI LinuxSeccomp form is a profile without
// conditions and renders to itself.
#pragma once

#include <compare>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/oci/spec.h"

namespace cricket::oci {

// "<major>.<minor>" of a kernel release.
struct KernelVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const KernelVersion&) const = default;
};
// Parses "6.1.0-13-amd64", "4.8" → {6, 1}, {4, 8}.
absl::StatusOr<KernelVersion> ParseKernelVersion(std::string_view release);

// What a profile is rendered for.
struct SeccompPlatform {
  std::string arch;  // docker's native arch name: "amd64", "x86", "arm64", "arm", "s390x", ...
  KernelVersion kernel;
};
// This host, from uname(2).
absl::StatusOr<SeccompPlatform> HostSeccompPlatform();
// The libseccomp architecture of a docker arch name ("amd64" → "SCMP_ARCH_X86_64"); "" when unknown.
std::string_view ScmpArchOfPlatformArch(std::string_view arch);

struct SeccompProfileFilter {
  std::vector<std::string> caps;    // "CAP_SYS_ADMIN"
  std::vector<std::string> arches;  // docker arch names
  std::optional<KernelVersion> min_kernel;
  bool operator==(const SeccompProfileFilter&) const = default;
};

struct SeccompProfileSyscall {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::kAllow;
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  SeccompProfileFilter includes;
  SeccompProfileFilter excludes;
  bool operator==(const SeccompProfileSyscall&) const = default;
};

struct SeccompArchMapEntry {
  std::string architecture;  // "SCMP_ARCH_X86_64"
  std::vector<std::string> sub_architectures;
  bool operator==(const SeccompArchMapEntry&) const = default;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::kErrno;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // used as is; exclusive with arch_map
  std::vector<SeccompArchMapEntry> arch_map;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompProfileSyscall> syscalls;
  bool operator==(const SeccompProfile&) const = default;
};

// Parsing: errors are InvalidArgument naming the JSON path ("syscalls[4].includes.minKernel: ...").
// "errnoRet" may also be given by name ("errno": "ENOSYS", "defaultErrno": "EPERM", as
// containers/common writes it). Unknown properties ("comment", ...) are ignored.
absl::StatusOr<SeccompProfile> ParseSeccompProfile(const nlohmann::json& json);
absl::StatusOr<SeccompProfile> ParseSeccompProfileText(std::string_view text, std::string_view what);
// Reads and parses a profile file; errors start with the file path.
absl::StatusOr<SeccompProfile> LoadSeccompProfileFile(const std::string& path);

// The OCI filter of a container whose bounding set is `bounding_caps` (names as in the spec; "CAP_"
// optional) on `platform`. Fails when the profile sets both architectures and archMap, or when the
// result breaks a rule of ValidateLinuxSeccomp (e.g. errnoRet with SCMP_ACT_ALLOW).
absl::StatusOr<LinuxSeccomp> RenderSeccompProfile(const SeccompProfile& profile,
                                                  const std::vector<std::string>& bounding_caps,
                                                  const SeccompPlatform& platform);

// cricket's RuntimeDefault profile, equivalent in effect to the containers/moby default profile:
// everything not listed fails with EPERM; an allow-list of ordinary syscalls; socket for every address
// family but AF_ALG and AF_VSOCK; personality only for PER_LINUX, PER_LINUX32, UNAME26 (and with
// PER_LINUX32) and the query value; clone without namespace flags unless CAP_SYS_ADMIN, clone3 failing
// with ENOSYS unless CAP_SYS_ADMIN (so that libc falls back to clone, whose flags seccomp can check);
// syscall groups unlocked by CAP_SYS_ADMIN (mount, umount2, unshare, setns, sethostname, bpf, ...),
// CAP_SYS_PTRACE, CAP_SYS_BOOT, CAP_SYS_MODULE, CAP_SYS_NICE, CAP_SYS_PACCT, CAP_SYS_RAWIO,
// CAP_SYS_TIME, CAP_SYS_TTY_CONFIG, CAP_SYS_CHROOT, CAP_SYSLOG, CAP_BPF, CAP_PERFMON and
// CAP_DAC_READ_SEARCH; architecture-specific syscalls; and the x86_64 → x86/x32, aarch64 → arm, ...
// architecture map.
const SeccompProfile& RuntimeDefaultSeccompProfile();
// RenderSeccompProfile(RuntimeDefaultSeccompProfile(), ...).
absl::StatusOr<LinuxSeccomp> RenderRuntimeDefaultSeccomp(const std::vector<std::string>& bounding_caps,
                                                         const SeccompPlatform& platform);

}  // namespace cricket::oci
