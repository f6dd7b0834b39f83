// Parsing of config.json into the model (spec.h). Serialization is in spec_json.cc, validation in
// spec_validate.cc.
#include "lib/oci/spec.h"

#include <array>
#include <utility>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/json_reader.h"

namespace cricket::oci {

using json::Json;
using json::Object;

namespace {

constexpr std::array<std::pair<NamespaceType, std::string_view>, 8> kNamespaceNames = {{
    {NamespaceType::kPid, "pid"},
    {NamespaceType::kNetwork, "network"},
    {NamespaceType::kMount, "mount"},
    {NamespaceType::kIpc, "ipc"},
    {NamespaceType::kUts, "uts"},
    {NamespaceType::kUser, "user"},
    {NamespaceType::kCgroup, "cgroup"},
    {NamespaceType::kTime, "time"},
}};

constexpr std::array<std::pair<SeccompAction, std::string_view>, 9> kActionNames = {{
    {SeccompAction::kKill, "SCMP_ACT_KILL"},
    {SeccompAction::kKillProcess, "SCMP_ACT_KILL_PROCESS"},
    {SeccompAction::kKillThread, "SCMP_ACT_KILL_THREAD"},
    {SeccompAction::kTrap, "SCMP_ACT_TRAP"},
    {SeccompAction::kErrno, "SCMP_ACT_ERRNO"},
    {SeccompAction::kTrace, "SCMP_ACT_TRACE"},
    {SeccompAction::kAllow, "SCMP_ACT_ALLOW"},
    {SeccompAction::kLog, "SCMP_ACT_LOG"},
    {SeccompAction::kNotify, "SCMP_ACT_NOTIFY"},
}};

constexpr std::array<std::pair<SeccompOperator, std::string_view>, 7> kOperatorNames = {{
    {SeccompOperator::kNotEqual, "SCMP_CMP_NE"},
    {SeccompOperator::kLessThan, "SCMP_CMP_LT"},
    {SeccompOperator::kLessEqual, "SCMP_CMP_LE"},
    {SeccompOperator::kEqualTo, "SCMP_CMP_EQ"},
    {SeccompOperator::kGreaterEqual, "SCMP_CMP_GE"},
    {SeccompOperator::kGreaterThan, "SCMP_CMP_GT"},
    {SeccompOperator::kMaskedEqual, "SCMP_CMP_MASKED_EQ"},
}};

template <class E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "";
}

template <class E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

// Reads a string property that must be one of an enumeration.
template <class E, size_t N>
absl::Status ReadEnum(const Object& o, std::string_view key, bool required,
                      const std::array<std::pair<E, std::string_view>, N>& table, std::string_view what,
                      E* out) {
  std::string name;
  if (required) {
    RETURN_IF_ERROR(o.Req(key, &name));
  } else {
    if (!o.Has(key)) return absl::OkStatus();
    RETURN_IF_ERROR(o.Opt(key, &name));
  }
  std::optional<E> v = ValueOf(table, name);
  if (!v) return json::PathError(o.PathOf(key), StrCat("unknown ", what, " \"", name, "\""));
  *out = *v;
  return absl::OkStatus();
}

// ----- shared pieces

absl::Status ReadIdMapping(const Json& v, const std::string& path, IdMapping* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("containerID", &out->container_id));
  RETURN_IF_ERROR(o.Req("hostID", &out->host_id));
  return o.Req("size", &out->size);
}

// ----- root, mounts

absl::Status ReadRoot(const Json& v, const std::string& path, Root* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("path", &out->path));
  return o.Opt("readonly", &out->readonly);
}

absl::Status ReadMount(const Json& v, const std::string& path, Mount* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("destination", &out->destination));
  RETURN_IF_ERROR(o.Opt("type", &out->type));
  RETURN_IF_ERROR(o.Opt("source", &out->source));
  RETURN_IF_ERROR(o.OptArray("options", &out->options));
  RETURN_IF_ERROR(o.OptArray("uidMappings", &out->uid_mappings, ReadIdMapping));
  return o.OptArray("gidMappings", &out->gid_mappings, ReadIdMapping);
}

// ----- process

absl::Status ReadConsoleSize(const Json& v, const std::string& path, ConsoleSize* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("height", &out->height));
  return o.Req("width", &out->width);
}

absl::Status ReadRlimit(const Json& v, const std::string& path, Rlimit* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("type", &out->type));
  RETURN_IF_ERROR(o.Req("hard", &out->hard));
  return o.Req("soft", &out->soft);
}

absl::Status ReadCapabilities(const Json& v, const std::string& path, Capabilities* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.OptArray("bounding", &out->bounding));
  RETURN_IF_ERROR(o.OptArray("effective", &out->effective));
  RETURN_IF_ERROR(o.OptArray("inheritable", &out->inheritable));
  RETURN_IF_ERROR(o.OptArray("permitted", &out->permitted));
  return o.OptArray("ambient", &out->ambient);
}

absl::Status ReadScheduler(const Json& v, const std::string& path, Scheduler* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("policy", &out->policy));
  RETURN_IF_ERROR(o.Opt("nice", &out->nice));
  RETURN_IF_ERROR(o.Opt("priority", &out->priority));
  RETURN_IF_ERROR(o.OptArray("flags", &out->flags));
  RETURN_IF_ERROR(o.Opt("runtime", &out->runtime));
  RETURN_IF_ERROR(o.Opt("deadline", &out->deadline));
  return o.Opt("period", &out->period);
}

absl::Status ReadIoPriority(const Json& v, const std::string& path, IoPriority* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("class", &out->io_class));
  return o.Req("priority", &out->priority);
}

absl::Status ReadCpuAffinity(const Json& v, const std::string& path, CpuAffinity* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("initial", &out->initial));
  return o.Opt("final", &out->final);
}

absl::Status ReadUser(const Json& v, const std::string& path, User* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("uid", &out->uid));
  RETURN_IF_ERROR(o.Opt("gid", &out->gid));
  RETURN_IF_ERROR(o.Opt("umask", &out->umask));
  RETURN_IF_ERROR(o.OptArray("additionalGids", &out->additional_gids));
  return o.Opt("username", &out->username);
}

absl::Status ReadProcess(const Json& v, const std::string& path, Process* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("terminal", &out->terminal));
  RETURN_IF_ERROR(o.OptObject("consoleSize", &out->console_size, ReadConsoleSize));
  // "user" has REQUIRED uid/gid on POSIX, but Go-based tools write "user":{} for root; accept absence.
  if (const Json* user = o.Find("user")) RETURN_IF_ERROR(ReadUser(*user, o.PathOf("user"), &out->user));
  RETURN_IF_ERROR(o.OptArray("args", &out->args));
  RETURN_IF_ERROR(o.Opt("commandLine", &out->command_line));
  RETURN_IF_ERROR(o.OptArray("env", &out->env));
  RETURN_IF_ERROR(o.Opt("cwd", &out->cwd));  // required; ValidateProcess says so with its reason
  RETURN_IF_ERROR(o.OptObject("capabilities", &out->capabilities, ReadCapabilities));
  RETURN_IF_ERROR(o.OptArray("rlimits", &out->rlimits, ReadRlimit));
  RETURN_IF_ERROR(o.Opt("noNewPrivileges", &out->no_new_privileges));
  RETURN_IF_ERROR(o.Opt("apparmorProfile", &out->apparmor_profile));
  RETURN_IF_ERROR(o.Opt("oomScoreAdj", &out->oom_score_adj));
  RETURN_IF_ERROR(o.OptObject("scheduler", &out->scheduler, ReadScheduler));
  RETURN_IF_ERROR(o.Opt("selinuxLabel", &out->selinux_label));
  RETURN_IF_ERROR(o.OptObject("ioPriority", &out->io_priority, ReadIoPriority));
  return o.OptObject("execCPUAffinity", &out->exec_cpu_affinity, ReadCpuAffinity);
}

// ----- hooks

absl::Status ReadHooks(const Json& v, const std::string& path, Hooks* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.OptArray("prestart", &out->prestart, ReadHook));
  RETURN_IF_ERROR(o.OptArray("createRuntime", &out->create_runtime, ReadHook));
  RETURN_IF_ERROR(o.OptArray("createContainer", &out->create_container, ReadHook));
  RETURN_IF_ERROR(o.OptArray("startContainer", &out->start_container, ReadHook));
  RETURN_IF_ERROR(o.OptArray("poststart", &out->poststart, ReadHook));
  return o.OptArray("poststop", &out->poststop, ReadHook);
}

// ----- linux

absl::Status ReadNamespace(const Json& v, const std::string& path, Namespace* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(ReadEnum(o, "type", true, kNamespaceNames, "namespace type", &out->type));
  return o.Opt("path", &out->path);
}

absl::Status ReadTimeOffset(const Json& v, const std::string& path, TimeOffset* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("secs", &out->secs));
  return o.Opt("nanosecs", &out->nanosecs);
}

absl::Status ReadDevice(const Json& v, const std::string& path, Device* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("path", &out->path));
  RETURN_IF_ERROR(o.Req("type", &out->type));
  if (out->type == "p") {
    RETURN_IF_ERROR(o.Opt("major", &out->major));
    RETURN_IF_ERROR(o.Opt("minor", &out->minor));
  } else {
    RETURN_IF_ERROR(o.Req("major", &out->major));
    RETURN_IF_ERROR(o.Req("minor", &out->minor));
  }
  RETURN_IF_ERROR(o.Opt("fileMode", &out->file_mode));
  RETURN_IF_ERROR(o.Opt("uid", &out->uid));
  return o.Opt("gid", &out->gid);
}

absl::Status ReadDeviceCgroupRule(const Json& v, const std::string& path, DeviceCgroupRule* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("allow", &out->allow));
  RETURN_IF_ERROR(o.Opt("type", &out->type));
  RETURN_IF_ERROR(o.Opt("major", &out->major));
  RETURN_IF_ERROR(o.Opt("minor", &out->minor));
  return o.Opt("access", &out->access);
}

absl::Status ReadMemory(const Json& v, const std::string& path, MemoryResources* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("limit", &out->limit));
  RETURN_IF_ERROR(o.Opt("reservation", &out->reservation));
  RETURN_IF_ERROR(o.Opt("swap", &out->swap));
  RETURN_IF_ERROR(o.Opt("kernel", &out->kernel));
  RETURN_IF_ERROR(o.Opt("kernelTCP", &out->kernel_tcp));
  RETURN_IF_ERROR(o.Opt("swappiness", &out->swappiness));
  RETURN_IF_ERROR(o.Opt("disableOOMKiller", &out->disable_oom_killer));
  RETURN_IF_ERROR(o.Opt("useHierarchy", &out->use_hierarchy));
  return o.Opt("checkBeforeUpdate", &out->check_before_update);
}

absl::Status ReadCpu(const Json& v, const std::string& path, CpuResources* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("shares", &out->shares));
  RETURN_IF_ERROR(o.Opt("quota", &out->quota));
  RETURN_IF_ERROR(o.Opt("burst", &out->burst));
  RETURN_IF_ERROR(o.Opt("period", &out->period));
  RETURN_IF_ERROR(o.Opt("realtimeRuntime", &out->realtime_runtime));
  RETURN_IF_ERROR(o.Opt("realtimePeriod", &out->realtime_period));
  RETURN_IF_ERROR(o.Opt("cpus", &out->cpus));
  RETURN_IF_ERROR(o.Opt("mems", &out->mems));
  return o.Opt("idle", &out->idle);
}

absl::Status ReadPids(const Json& v, const std::string& path, PidsResources* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  return o.Opt("limit", &out->limit);
}

absl::Status ReadWeightDevice(const Json& v, const std::string& path, WeightDevice* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("major", &out->major));
  RETURN_IF_ERROR(o.Req("minor", &out->minor));
  RETURN_IF_ERROR(o.Opt("weight", &out->weight));
  return o.Opt("leafWeight", &out->leaf_weight);
}

absl::Status ReadThrottleDevice(const Json& v, const std::string& path, ThrottleDevice* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("major", &out->major));
  RETURN_IF_ERROR(o.Req("minor", &out->minor));
  return o.Req("rate", &out->rate);
}

absl::Status ReadBlockIo(const Json& v, const std::string& path, BlockIoResources* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("weight", &out->weight));
  RETURN_IF_ERROR(o.Opt("leafWeight", &out->leaf_weight));
  RETURN_IF_ERROR(o.OptArray("weightDevice", &out->weight_device, ReadWeightDevice));
  RETURN_IF_ERROR(o.OptArray("throttleReadBpsDevice", &out->throttle_read_bps_device, ReadThrottleDevice));
  RETURN_IF_ERROR(o.OptArray("throttleWriteBpsDevice", &out->throttle_write_bps_device, ReadThrottleDevice));
  RETURN_IF_ERROR(o.OptArray("throttleReadIOPSDevice", &out->throttle_read_iops_device, ReadThrottleDevice));
  return o.OptArray("throttleWriteIOPSDevice", &out->throttle_write_iops_device, ReadThrottleDevice);
}

absl::Status ReadHugepageLimit(const Json& v, const std::string& path, HugepageLimit* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("pageSize", &out->page_size));
  return o.Req("limit", &out->limit);
}

absl::Status ReadInterfacePriority(const Json& v, const std::string& path, InterfacePriority* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("name", &out->name));
  return o.Req("priority", &out->priority);
}

absl::Status ReadNetwork(const Json& v, const std::string& path, NetworkResources* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("classID", &out->class_id));
  return o.OptArray("priorities", &out->priorities, ReadInterfacePriority);
}

absl::Status ReadRdma(const Json& v, const std::string& path, RdmaLimit* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("hcaHandles", &out->hca_handles));
  return o.Opt("hcaObjects", &out->hca_objects);
}

absl::Status ReadResources(const Json& v, const std::string& path, LinuxResources* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.OptArray("devices", &out->devices, ReadDeviceCgroupRule));
  RETURN_IF_ERROR(o.OptObject("memory", &out->memory, ReadMemory));
  RETURN_IF_ERROR(o.OptObject("cpu", &out->cpu, ReadCpu));
  RETURN_IF_ERROR(o.OptObject("pids", &out->pids, ReadPids));
  RETURN_IF_ERROR(o.OptObject("blockIO", &out->block_io, ReadBlockIo));
  RETURN_IF_ERROR(o.OptArray("hugepageLimits", &out->hugepage_limits, ReadHugepageLimit));
  RETURN_IF_ERROR(o.OptObject("network", &out->network, ReadNetwork));
  RETURN_IF_ERROR(o.OptMap("rdma", &out->rdma, ReadRdma));
  return o.OptMap("unified", &out->unified);
}

absl::Status ReadIntelRdt(const Json& v, const std::string& path, IntelRdt* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Opt("closID", &out->clos_id));
  RETURN_IF_ERROR(o.OptArray("schemata", &out->schemata));
  RETURN_IF_ERROR(o.Opt("l3CacheSchema", &out->l3_cache_schema));
  RETURN_IF_ERROR(o.Opt("memBwSchema", &out->mem_bw_schema));
  return o.Opt("enableMonitoring", &out->enable_monitoring);
}

absl::Status ReadMemoryPolicy(const Json& v, const std::string& path, MemoryPolicy* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("mode", &out->mode));
  RETURN_IF_ERROR(o.Opt("nodes", &out->nodes));
  return o.OptArray("flags", &out->flags);
}

absl::Status ReadNetDevice(const Json& v, const std::string& path, NetDevice* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  return o.Opt("name", &out->name);
}

absl::Status ReadPersonality(const Json& v, const std::string& path, Personality* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("domain", &out->domain));
  return o.OptArray("flags", &out->flags);
}

absl::Status ReadSeccompArg(const Json& v, const std::string& path, SeccompArg* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("index", &out->index));
  RETURN_IF_ERROR(o.Req("value", &out->value));
  RETURN_IF_ERROR(o.Opt("valueTwo", &out->value_two));
  return ReadEnum(o, "op", true, kOperatorNames, "seccomp operator", &out->op);
}

absl::Status ReadSyscall(const Json& v, const std::string& path, SeccompSyscall* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  if (!o.Has("names")) return o.Missing("names");
  RETURN_IF_ERROR(o.OptArray("names", &out->names));
  RETURN_IF_ERROR(ReadEnum(o, "action", true, kActionNames, "seccomp action", &out->action));
  RETURN_IF_ERROR(o.Opt("errnoRet", &out->errno_ret));
  return o.OptArray("args", &out->args, ReadSeccompArg);
}

absl::Status ReadSeccomp(const Json& v, const std::string& path, LinuxSeccomp* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(ReadEnum(o, "defaultAction", true, kActionNames, "seccomp action", &out->default_action));
  RETURN_IF_ERROR(o.Opt("defaultErrnoRet", &out->default_errno_ret));
  RETURN_IF_ERROR(o.OptArray("architectures", &out->architectures));
  RETURN_IF_ERROR(o.OptArray("flags", &out->flags));
  RETURN_IF_ERROR(o.Opt("listenerPath", &out->listener_path));
  RETURN_IF_ERROR(o.Opt("listenerMetadata", &out->listener_metadata));
  return o.OptArray("syscalls", &out->syscalls, ReadSyscall);
}

absl::Status ReadLinux(const Json& v, const std::string& path, Linux* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.OptArray("uidMappings", &out->uid_mappings, ReadIdMapping));
  RETURN_IF_ERROR(o.OptArray("gidMappings", &out->gid_mappings, ReadIdMapping));
  RETURN_IF_ERROR(o.OptMap("sysctl", &out->sysctl));
  RETURN_IF_ERROR(o.OptObject("resources", &out->resources, ReadResources));
  RETURN_IF_ERROR(o.Opt("cgroupsPath", &out->cgroups_path));
  RETURN_IF_ERROR(o.OptArray("namespaces", &out->namespaces, ReadNamespace));
  RETURN_IF_ERROR(o.OptArray("devices", &out->devices, ReadDevice));
  RETURN_IF_ERROR(o.OptMap("netDevices", &out->net_devices, ReadNetDevice));
  RETURN_IF_ERROR(o.OptObject("seccomp", &out->seccomp, ReadSeccomp));
  RETURN_IF_ERROR(o.Opt("rootfsPropagation", &out->rootfs_propagation));
  RETURN_IF_ERROR(o.OptArray("maskedPaths", &out->masked_paths));
  RETURN_IF_ERROR(o.OptArray("readonlyPaths", &out->readonly_paths));
  RETURN_IF_ERROR(o.Opt("mountLabel", &out->mount_label));
  RETURN_IF_ERROR(o.OptObject("intelRdt", &out->intel_rdt, ReadIntelRdt));
  RETURN_IF_ERROR(o.OptObject("memoryPolicy", &out->memory_policy, ReadMemoryPolicy));
  RETURN_IF_ERROR(o.OptObject("personality", &out->personality, ReadPersonality));
  return o.OptMap("timeOffsets", &out->time_offsets, ReadTimeOffset);
}

}  // namespace

absl::Status ReadHook(const nlohmann::json& v, const std::string& path, Hook* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("path", &out->path));
  RETURN_IF_ERROR(o.OptArray("args", &out->args));
  RETURN_IF_ERROR(o.OptArray("env", &out->env));
  return o.Opt("timeout", &out->timeout);
}

std::string_view NamespaceTypeName(NamespaceType type) { return NameOf(kNamespaceNames, type); }
std::optional<NamespaceType> ParseNamespaceType(std::string_view name) {
  return ValueOf(kNamespaceNames, name);
}

std::string_view SeccompActionName(SeccompAction action) { return NameOf(kActionNames, action); }
std::optional<SeccompAction> ParseSeccompAction(std::string_view name) { return ValueOf(kActionNames, name); }
bool SeccompActionTakesErrno(SeccompAction action) {
  return action == SeccompAction::kErrno || action == SeccompAction::kTrace;
}

std::string_view SeccompOperatorName(SeccompOperator op) { return NameOf(kOperatorNames, op); }
std::optional<SeccompOperator> ParseSeccompOperator(std::string_view name) {
  return ValueOf(kOperatorNames, name);
}

const Namespace* Linux::FindNamespace(NamespaceType type) const {
  for (const Namespace& ns : namespaces) {
    if (ns.type == type) return &ns;
  }
  return nullptr;
}

absl::StatusOr<Spec> ParseSpec(const Json& v) {
  Spec spec;
  ASSIGN_OR_RETURN(Object o, Object::Of(v, ""));
  RETURN_IF_ERROR(o.Req("ociVersion", &spec.oci_version));
  RETURN_IF_ERROR(o.OptObject("root", &spec.root, ReadRoot));
  RETURN_IF_ERROR(o.OptArray("mounts", &spec.mounts, ReadMount));
  RETURN_IF_ERROR(o.OptObject("process", &spec.process, ReadProcess));
  RETURN_IF_ERROR(o.Opt("hostname", &spec.hostname));
  RETURN_IF_ERROR(o.Opt("domainname", &spec.domainname));
  RETURN_IF_ERROR(o.OptObject("hooks", &spec.hooks, ReadHooks));
  RETURN_IF_ERROR(o.OptMap("annotations", &spec.annotations));
  RETURN_IF_ERROR(o.OptObject("linux", &spec.linux, ReadLinux));
  return spec;
}

absl::StatusOr<Spec> ParseSpecText(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(Json v, ParseJson(text, what));
  absl::StatusOr<Spec> spec = ParseSpec(v);
  if (!spec.ok()) return Annotate(spec.status(), what);
  return spec;
}

absl::StatusOr<Spec> LoadSpecFile(const std::string& bundle_dir) {
  std::string path = JoinPath(bundle_dir, "config.json");
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(Spec spec, ParseSpecText(text, path));
  absl::Status valid = ValidateSpec(spec);
  if (!valid.ok()) return Annotate(valid, path);
  return spec;
}

std::string RootfsPath(const Root& root, std::string_view bundle_dir) {
  if (!root.path.empty() && root.path[0] == '/') return CleanPath(root.path);
  return JoinPath(bundle_dir, root.path);
}

absl::StatusOr<Process> ParseProcess(const Json& v, std::string_view path) {
  Process process;
  RETURN_IF_ERROR(ReadProcess(v, std::string(path), &process));
  return process;
}

absl::StatusOr<LinuxResources> ParseLinuxResources(const Json& v, std::string_view path) {
  LinuxResources resources;
  RETURN_IF_ERROR(ReadResources(v, std::string(path), &resources));
  return resources;
}

absl::StatusOr<LinuxSeccomp> ParseLinuxSeccomp(const Json& v, std::string_view path) {
  LinuxSeccomp seccomp;
  RETURN_IF_ERROR(ReadSeccomp(v, std::string(path), &seccomp));
  return seccomp;
}

}  // namespace cricket::oci
