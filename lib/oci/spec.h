// A typed model of the OCI runtime-spec config.json (v1.2.1; the v1.3.0 additions netDevices,
// memoryPolicy and intelRdt.schemata/enableMonitoring are modelled too), with parsing, serialization
// and validation.
//
// https://github.com/opencontainers/runtime-spec/blob/v1.2.1/config.md
// https://github.com/opencontainers/runtime-spec/blob/v1.2.1/config-linux.md
//
// Conventions of the model:
// - Field names follow the JSON property names (camelCase → snake_case).
// - A property the spec marks OPTIONAL and whose absence means something different from its zero value
//   ("if not set, the runtime MUST NOT change ...") is a std::optional. Arrays and maps are plain
//   containers: an empty container and an absent property mean the same thing and serialize as absent.
// - Parsing ignores unknown properties (config.md "Extensibility": runtimes MUST ignore unknown
//   properties); properties of other platforms (windows, solaris, vm, zos, freebsd) are ignored too.
// - Parse errors are InvalidArgument and name the JSON path of the bad value:
//     "linux.resources.memory.limit: expected integer, got string"
//     "mounts[3].destination: required property missing"
// - Parsing checks shapes and types (and enumerations modelled as C++ enums); ValidateSpec checks the
//   spec's MUST rules across fields (duplicate namespaces, relative cwd, ...).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cricket::oci {

// The runtime-spec version cricket writes into specs it builds (and state.json).
inline constexpr std::string_view kOciVersion = "1.2.1";

// ---------------------------------------------------------------------------------------------------
// Shared pieces

// config-linux.md "User namespace mappings"; also used by mounts[].uidMappings (idmapped mounts).
struct IdMapping {
  uint32_t container_id = 0;  // "containerID"
  uint32_t host_id = 0;       // "hostID"
  uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

// ---------------------------------------------------------------------------------------------------
// root, mounts (config.md)

struct Root {
  // Absolute, or relative to the bundle directory (conventionally "rootfs").
  std::string path;
  bool readonly = false;
  bool operator==(const Root&) const = default;
};

struct Mount {
  // Path inside the container. SHOULD be absolute; a relative path is deprecated and is interpreted
  // relative to "/" (config.md "Mounts").
  std::string destination;
  std::string type;    // "" when absent (bind mounts)
  std::string source;  // "" when absent; bind sources may be relative to the bundle
  std::vector<std::string> options;
  // Idmapped mount (options "idmap"/"ridmap"); both or neither (checked by ValidateSpec).
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  bool operator==(const Mount&) const = default;
};

// ---------------------------------------------------------------------------------------------------
// process (config.md "Process", "POSIX process", "Linux Process")

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
  bool operator==(const ConsoleSize&) const = default;
};

// "type" is e.g. "RLIMIT_NOFILE"; ValidateSpec rejects names Linux does not have and duplicates.
struct Rlimit {
  std::string type;
  uint64_t hard = 0;
  uint64_t soft = 0;
  bool operator==(const Rlimit&) const = default;
};

// Capability names as written ("CAP_CHOWN"). Unknown names are not a parse or validation error: the
// spec says they MUST be logged as a warning (see capabilities.h to map them to numbers).
struct Capabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> inheritable;
  std::vector<std::string> permitted;
  std::vector<std::string> ambient;
  bool operator==(const Capabilities&) const = default;
};

struct Scheduler {
  std::string policy;  // REQUIRED: SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, ...
  int32_t nice = 0;
  int32_t priority = 0;
  std::vector<std::string> flags;  // SCHED_FLAG_RESET_ON_FORK, ...
  uint64_t runtime = 0;            // ns, SCHED_DEADLINE
  uint64_t deadline = 0;
  uint64_t period = 0;
  bool operator==(const Scheduler&) const = default;
};

struct IoPriority {
  std::string io_class;  // "class": IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE
  int32_t priority = 0;  // 0 (highest) .. 7 (lowest)
  bool operator==(const IoPriority&) const = default;
};

// CPU lists in cpuset syntax ("0-3,7"); not applicable to the init process.
struct CpuAffinity {
  std::string initial;
  std::string final;
  bool operator==(const CpuAffinity&) const = default;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;  // absent: the runtime keeps its default (0022)
  std::vector<uint32_t> additional_gids;
  std::string username;  // Windows only; kept for round trips
  bool operator==(const User&) const = default;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;  // ignored unless terminal
  User user;
  std::vector<std::string> args;             // at least one entry (ValidateSpec)
  std::string command_line;                  // Windows only
  std::vector<std::string> env;              // "KEY=value"
  std::string cwd;                           // REQUIRED, absolute
  std::optional<Capabilities> capabilities;  // absent: the runtime does not change capabilities
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int32_t> oom_score_adj;  // absent: oom_score_adj MUST NOT be changed
  std::optional<Scheduler> scheduler;
  std::string selinux_label;
  std::optional<IoPriority> io_priority;
  std::optional<CpuAffinity> exec_cpu_affinity;
  bool operator==(const Process&) const = default;
};

// ---------------------------------------------------------------------------------------------------
// hooks (config.md "POSIX-platform Hooks")

struct Hook {
  std::string path;  // absolute, resolved in the runtime namespace
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int32_t> timeout;  // seconds, > 0 when set
  bool operator==(const Hook&) const = default;
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated by the spec, still run
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
  bool empty() const {
    return prestart.empty() && create_runtime.empty() && create_container.empty() &&
           start_container.empty() && poststart.empty() && poststop.empty();
  }
  bool operator==(const Hooks&) const = default;
};

// ---------------------------------------------------------------------------------------------------
// linux (config-linux.md)

enum class NamespaceType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };
// "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time".
std::string_view NamespaceTypeName(NamespaceType type);
std::optional<NamespaceType> ParseNamespaceType(std::string_view name);

struct Namespace {
  NamespaceType type = NamespaceType::kPid;
  std::string path;  // "" = create a new namespace; otherwise join the one at this absolute path
  bool operator==(const Namespace&) const = default;
};

// "timeOffsets" values; the key is the clock name ("monotonic", "boottime").
struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
  bool operator==(const TimeOffset&) const = default;
};

// linux.devices[]: a device node the container gets.
struct Device {
  std::string path;   // absolute path inside the container
  std::string type;   // "c", "b", "u" or "p"
  int64_t major = 0;  // REQUIRED unless type is "p"
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;  // "fileMode": permission bits (e.g. 0666)
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool operator==(const Device&) const = default;
};

// linux.resources.devices[]: one rule of the device cgroup allow/deny list.
struct DeviceCgroupRule {
  bool allow = false;
  std::string type;              // "a", "c" or "b"; "" means all ("a")
  std::optional<int64_t> major;  // absent: all majors ("*")
  std::optional<int64_t> minor;
  std::string access;  // subset of "rwm"; "" means "rwm"
  bool operator==(const DeviceCgroupRule&) const = default;
};

struct MemoryResources {
  std::optional<int64_t> limit;  // bytes; -1 = unlimited
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;        // memory+swap
  std::optional<int64_t> kernel;      // deprecated
  std::optional<int64_t> kernel_tcp;  // "kernelTCP"
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;  // "disableOOMKiller"
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
  bool operator==(const MemoryResources&) const = default;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;  // µs per period; -1 = unlimited
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;  // µs
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;  // cpuset list
  std::string mems;
  std::optional<int64_t> idle;  // cgroup v2 cpu.idle
  bool operator==(const CpuResources&) const = default;
};

struct PidsResources {
  std::optional<int64_t> limit;  // 0 or -1 = unlimited (v1.2.1 made this optional)
  bool operator==(const PidsResources&) const = default;
};

struct WeightDevice {
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint16_t> weight;  // at least one of weight/leaf_weight (ValidateSpec)
  std::optional<uint16_t> leaf_weight;
  bool operator==(const WeightDevice&) const = default;
};

struct ThrottleDevice {
  int64_t major = 0;
  int64_t minor = 0;
  uint64_t rate = 0;
  bool operator==(const ThrottleDevice&) const = default;
};

struct BlockIoResources {
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device;
  std::vector<ThrottleDevice> throttle_write_bps_device;
  std::vector<ThrottleDevice> throttle_read_iops_device;  // "throttleReadIOPSDevice"
  std::vector<ThrottleDevice> throttle_write_iops_device;
  bool operator==(const BlockIoResources&) const = default;
};

struct HugepageLimit {
  std::string page_size;  // "pageSize": "2MB", "1GB", "64KB"
  uint64_t limit = 0;     // bytes
  bool operator==(const HugepageLimit&) const = default;
};

struct InterfacePriority {
  std::string name;
  uint32_t priority = 0;
  bool operator==(const InterfacePriority&) const = default;
};

struct NetworkResources {
  std::optional<uint32_t> class_id;  // "classID"
  std::vector<InterfacePriority> priorities;
  bool operator==(const NetworkResources&) const = default;
};

struct RdmaLimit {
  std::optional<uint32_t> hca_handles;  // at least one of the two (ValidateSpec)
  std::optional<uint32_t> hca_objects;
  bool operator==(const RdmaLimit&) const = default;
};

// linux.resources; also the input of `update --resources` (ParseLinuxResources).
struct LinuxResources {
  std::vector<DeviceCgroupRule> devices;  // applied in order
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> block_io;  // "blockIO"
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<NetworkResources> network;
  std::map<std::string, RdmaLimit> rdma;  // key: device name ("mlx5_1")
  // cgroup v2 files written verbatim ("memory.high" → "1G"); unknown keys MUST still be written.
  std::map<std::string, std::string> unified;
  bool operator==(const LinuxResources&) const = default;
};

// linux.intelRdt (resctrl).
struct IntelRdt {
  std::string clos_id;                // "closID"
  std::vector<std::string> schemata;  // v1.3.0
  std::string l3_cache_schema;
  std::string mem_bw_schema;       // starts with "MB:", no newline
  bool enable_monitoring = false;  // v1.3.0
  bool operator==(const IntelRdt&) const = default;
};

// linux.memoryPolicy (v1.3.0): set_mempolicy(2) for the container process.
struct MemoryPolicy {
  std::string mode;   // MPOL_DEFAULT, MPOL_BIND, MPOL_INTERLEAVE, ...
  std::string nodes;  // node list ("0-3,7")
  std::vector<std::string> flags;
  bool operator==(const MemoryPolicy&) const = default;
};

// linux.netDevices values (v1.3.0): host interfaces moved into the container's network namespace;
// the key is the host interface name.
struct NetDevice {
  std::string name;  // name inside the container; "" keeps the host name
  bool operator==(const NetDevice&) const = default;
};

struct Personality {
  std::string domain;  // "LINUX" or "LINUX32"
  std::vector<std::string> flags;
  bool operator==(const Personality&) const = default;
};

// Seccomp (config-linux.md "Seccomp"). Actions and operators are enums; architectures and flags stay
// strings ("SCMP_ARCH_X86_64", "SECCOMP_FILTER_FLAG_LOG") and are mapped by whoever loads the filter.
enum class SeccompAction {
  kKill,  // SCMP_ACT_KILL (kills the thread)
  kKillProcess,
  kKillThread,
  kTrap,
  kErrno,
  kTrace,
  kAllow,
  kLog,
  kNotify,
};
// "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", ... (the spec's spelling).
std::string_view SeccompActionName(SeccompAction action);
std::optional<SeccompAction> ParseSeccompAction(std::string_view name);
// Only SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry an errno (errnoRet / defaultErrnoRet).
bool SeccompActionTakesErrno(SeccompAction action);

enum class SeccompOperator {
  kNotEqual,
  kLessThan,
  kLessEqual,
  kEqualTo,
  kGreaterEqual,
  kGreaterThan,
  kMaskedEqual
};
// "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
// "SCMP_CMP_MASKED_EQ".
std::string_view SeccompOperatorName(SeccompOperator op);
std::optional<SeccompOperator> ParseSeccompOperator(std::string_view name);

struct SeccompArg {
  uint32_t index = 0;  // syscall argument 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;  // "valueTwo": the mask's comparand for SCMP_CMP_MASKED_EQ
  SeccompOperator op = SeccompOperator::kEqualTo;
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
  std::vector<std::string> names;  // at least one (ValidateSpec)
  SeccompAction action = SeccompAction::kAllow;
  std::optional<uint32_t> errno_ret;  // "errnoRet"; absent: EPERM for SCMP_ACT_ERRNO
  std::vector<SeccompArg> args;       // all must match (AND)
  bool operator==(const SeccompSyscall&) const = default;
};

struct LinuxSeccomp {
  SeccompAction default_action = SeccompAction::kAllow;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // "SCMP_ARCH_X86_64", ...
  std::vector<std::string> flags;          // "SECCOMP_FILTER_FLAG_LOG", ...
  std::string listener_path;
  std::string listener_metadata;         // only with listener_path
  std::vector<SeccompSyscall> syscalls;  // rules, in order
  bool operator==(const LinuxSeccomp&) const = default;
};

struct Linux {
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::map<std::string, std::string> sysctl;
  std::optional<LinuxResources> resources;
  std::string cgroups_path;
  std::vector<Namespace> namespaces;  // no duplicate types (ValidateSpec)
  std::vector<Device> devices;
  std::map<std::string, NetDevice> net_devices;  // v1.3.0 "netDevices"
  std::optional<LinuxSeccomp> seccomp;           // absent: no filter
  std::string rootfs_propagation;                // "", shared, slave, private, unbindable
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  std::optional<IntelRdt> intel_rdt;
  std::optional<MemoryPolicy> memory_policy;  // v1.3.0
  std::optional<Personality> personality;
  std::map<std::string, TimeOffset> time_offsets;

  // The entry of `type`, or nullptr.
  const Namespace* FindNamespace(NamespaceType type) const;
  bool operator==(const Linux&) const = default;
};

// ---------------------------------------------------------------------------------------------------
// The whole config.json

struct Spec {
  std::string oci_version;         // "ociVersion", SemVer
  std::optional<Root> root;        // REQUIRED on Linux (ValidateSpec)
  std::vector<Mount> mounts;       // mounted in order
  std::optional<Process> process;  // REQUIRED when start is called
  std::string hostname;
  std::string domainname;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
  bool operator==(const Spec&) const = default;
};

// ---------------------------------------------------------------------------------------------------
// Parsing and serialization. Parse* never throw; errors are InvalidArgument naming the JSON path.

absl::StatusOr<Spec> ParseSpec(const nlohmann::json& json);
// One hook object as config.json holds it (path, args, env, timeout); errors name `path` (the JSON path).
absl::Status ReadHook(const nlohmann::json& value, const std::string& path, Hook* out);
// Parses JSON text; `what` names the source in errors ("/bundle/config.json").
absl::StatusOr<Spec> ParseSpecText(std::string_view text, std::string_view what = "config.json");
// Reads `<bundle_dir>/config.json`, parses it and runs ValidateSpec. Errors start with the file path.
absl::StatusOr<Spec> LoadSpecFile(const std::string& bundle_dir);

// The root filesystem's path on the host: root.path when absolute, else joined to the bundle directory
// (config.md "Root": "either an absolute path or a relative path to the bundle").
std::string RootfsPath(const Root& root, std::string_view bundle_dir);

// Serialization omits absent optionals and empty containers; ParseSpec(SpecToJson(s)) == s.
nlohmann::json SpecToJson(const Spec& spec);
// Serialized text; `indent` < 0 gives the compact form.
std::string SerializeSpec(const Spec& spec, int indent = -1);

// Pieces parsed on their own: `exec --process process.json` (a Process), `update --resources file`
// (LinuxResources) and seccomp profiles already in OCI form. `path` is the JSON path prefix used in
// error messages ("" for a document of its own).
absl::StatusOr<Process> ParseProcess(const nlohmann::json& json, std::string_view path = "process");
nlohmann::json ProcessToJson(const Process& process);
absl::StatusOr<LinuxResources> ParseLinuxResources(const nlohmann::json& json,
                                                   std::string_view path = "linux.resources");
nlohmann::json LinuxResourcesToJson(const LinuxResources& resources);
absl::StatusOr<LinuxSeccomp> ParseLinuxSeccomp(const nlohmann::json& json,
                                               std::string_view path = "linux.seccomp");
nlohmann::json LinuxSeccompToJson(const LinuxSeccomp& seccomp);

// ---------------------------------------------------------------------------------------------------
// Validation of the spec's MUST rules for Linux (config.md, config-linux.md) plus values the kernel
// would reject anyway: ociVersion SemVer; root present with a path; mount destinations non-empty,
// uid/gid mappings paired, idmap/ridmap without mappings only with a user namespace; process cwd
// absolute, args non-empty, rlimit types known and unique with soft <= hard, scheduler policy/flags and
// ioPriority class/priority known; hook paths absolute and timeouts > 0; namespace types unique and
// paths absolute; devices typed (c, b, u, p) and absolute; device cgroup rules typed (a, c, b) with
// access in "rwm"; cpu.burst <= a positive quota; blockIO weightDevice and rdma entries non-empty;
// timeOffsets only for monotonic/boottime; masked/readonly paths absolute; rootfsPropagation,
// personality, memoryPolicy, intelRdt.memBwSchema and seccomp values (architectures, flags,
// listenerMetadata, argument index) known; errnoRet only with actions that take one. Capability names
// are not checked (unknown ones are a warning for the runtime). Returns the first violation as
// InvalidArgument naming the JSON path.
absl::Status ValidateSpec(const Spec& spec);
// The process part alone (also used for `exec --process`).
absl::Status ValidateProcess(const Process& process, std::string_view path = "process");
// The seccomp part alone (also used for profiles loaded from files).
absl::Status ValidateLinuxSeccomp(const LinuxSeccomp& seccomp, std::string_view path = "linux.seccomp");

}  // namespace cricket::oci
