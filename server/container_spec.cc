#include "server/container_spec.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"
#include "lib/oci/default_spec.h"
#include "server/cdi_devices.h"
#include "server/cri_mounts.h"
#include "server/declared_volumes.h"
#include "server/user_lookup.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

// Annotation keys tools (kubelet's cadvisor, nerdctl, crictl inspect) recognise on CRI containers.
constexpr char kAnnotationContainerType[] = "io.kubernetes.cri.container-type";
constexpr char kAnnotationSandboxId[] = "io.kubernetes.cri.sandbox-id";
constexpr char kAnnotationContainerName[] = "io.kubernetes.cri.container-name";
constexpr char kAnnotationImageName[] = "io.kubernetes.cri.image-name";

std::string EnvKey(std::string_view kv) { return std::string(kv.substr(0, kv.find('='))); }

void SetEnv(std::vector<std::string>& env, std::string kv) {
  std::string key = EnvKey(kv);
  for (std::string& e : env) {
    if (EnvKey(e) == key) {
      e = std::move(kv);
      return;
    }
  }
  env.push_back(std::move(kv));
}

bool HasEnv(const std::vector<std::string>& env, std::string_view key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return EnvKey(e) == key; });
}

size_t PathDepth(const std::string& path) {
  std::string clean = CleanPath(path);
  return clean == "/" ? 0 : static_cast<size_t>(std::count(clean.begin(), clean.end(), '/'));
}

void RemoveMountAt(std::vector<oci::Mount>& mounts, const std::string& destination) {
  std::string dst = CleanPath(destination);
  mounts.erase(std::remove_if(mounts.begin(), mounts.end(),
                              [&](const oci::Mount& m) { return CleanPath(m.destination) == dst; }),
               mounts.end());
}

oci::Mount BindMount(const std::string& source, const std::string& destination, bool readonly,
                     std::string_view propagation = "rprivate") {
  oci::Mount m;
  m.destination = destination;
  m.type = "bind";
  m.source = source;
  m.options = {"rbind", std::string(propagation)};
  if (readonly) m.options.push_back("ro");
  return m;
}

// Pod-wide files and /dev/shm, unless a CRI mount provides them (kubelet mounts its own /etc/hosts).
void AddSandboxMounts(const ContainerSpecInput& in, bool readonly_rootfs, std::vector<oci::Mount>& mounts) {
  const SandboxShare& sb = in.sandbox;
  auto has_cri_mount = [&](std::string_view dst) {
    for (const v1::Mount& m : in.config->mounts()) {
      if (CleanPath(m.container_path()) == dst) return true;
    }
    return false;
  };
  struct File {
    const std::string& source;
    const char* destination;
  } files[] = {{sb.hosts_path, "/etc/hosts"},
               {sb.resolv_conf_path, "/etc/resolv.conf"},
               {sb.hostname_path, "/etc/hostname"}};
  for (const File& f : files) {
    if (f.source.empty() || has_cri_mount(f.destination)) continue;
    mounts.push_back(BindMount(f.source, f.destination, readonly_rootfs));
    // In the pod's user namespace the files (which cricketd owns) are its root's, through the pod's maps.
    if (sb.userns) mounts.back().options.push_back("idmap");
  }
  if (!has_cri_mount("/dev/shm")) {
    RemoveMountAt(mounts, "/dev/shm");
    mounts.push_back(BindMount(sb.shm_path.empty() ? "/dev/shm" : sb.shm_path, "/dev/shm", false));
  }
}

absl::StatusOr<std::string> PropagationOption(v1::MountPropagation p, std::string& rootfs_propagation) {
  switch (p) {
    case v1::PROPAGATION_PRIVATE:
      return std::string("rprivate");
    case v1::PROPAGATION_HOST_TO_CONTAINER:
      // Host mounts must reach the container: its root mount may not be private.
      if (rootfs_propagation != "rshared") rootfs_propagation = "rslave";
      return std::string("rslave");
    case v1::PROPAGATION_BIDIRECTIONAL:
      rootfs_propagation = "rshared";
      return std::string("rshared");
    default:
      return absl::InvalidArgumentError(StrCat("unknown mount propagation ", static_cast<int>(p)));
  }
}

// An image volume (Mount.image): its prepared mount bind-mounted read-only, nodev and nosuid, whatever
// `readonly` says (kubelet sets it; the volume is read-only anyway).
absl::Status AddImageVolumeMount(const ContainerSpecInput& in, const v1::Mount& m,
                                 std::vector<oci::Mount>& mounts, std::string& rootfs_propagation) {
  std::string dst = CleanPath(m.container_path());
  if (m.uidmappings_size() > 0 || m.gidmappings_size() > 0 || m.mount_options_size() > 0) {
    return absl::UnimplementedError(StrCat("image volume ", m.image().image(), " on ", dst,
                                           ": uidMappings, gidMappings and mount_options are not supported"));
  }
  auto it = std::find_if(in.image_volumes.begin(), in.image_volumes.end(),
                         [&](const ImageVolumeMount& v) { return v.container_path == dst; });
  if (it == in.image_volumes.end()) {
    return absl::InternalError(StrCat("image volume ", m.image().image(), " on ", dst, " was not mounted"));
  }
  ASSIGN_OR_RETURN(std::string propagation, PropagationOption(m.propagation(), rootfs_propagation));
  RemoveMountAt(mounts, dst);
  oci::Mount bind = BindMount(it->source, dst, /*readonly=*/true, propagation);
  bind.options.push_back("nosuid");
  bind.options.push_back("nodev");
  mounts.push_back(std::move(bind));
  return absl::OkStatus();
}

absl::Status AddCriMounts(const ContainerSpecInput& in, std::vector<oci::Mount>& mounts,
                          std::string& rootfs_propagation) {
  std::vector<const v1::Mount*> cri;
  for (const v1::Mount& m : in.config->mounts()) cri.push_back(&m);
  // Parents before children, whatever order kubelet sent them in.
  std::stable_sort(cri.begin(), cri.end(), [](const v1::Mount* a, const v1::Mount* b) {
    return PathDepth(a->container_path()) < PathDepth(b->container_path());
  });
  const auto& reject = in.daemon->runtime.absent_mount_sources_to_reject;
  for (const v1::Mount* m : cri) {
    std::string where = StrCat("mount ", m->host_path(), " on ", m->container_path());
    if (m->container_path().empty() || m->container_path().front() != '/') {
      return absl::InvalidArgumentError(StrCat(where, ": container_path must be absolute"));
    }
    if (IsImageVolume(*m)) {
      RETURN_IF_ERROR(AddImageVolumeMount(in, *m, mounts, rootfs_propagation));
      continue;
    }
    if (m->host_path().empty() || m->host_path().front() != '/') {
      return absl::InvalidArgumentError(StrCat(where, ": host_path must be absolute"));
    }
    // What it asks beyond source and destination, refused before anything is made for it.
    oci::Mount features;
    RETURN_IF_ERROR(ApplyMountFeatures(*m, in.sandbox.userns, where, features));
    std::string source = CleanPath(m->host_path());
    struct stat st;
    if (::stat(source.c_str(), &st) != 0) {
      if (errno != ENOENT) return ErrnoError("stat mount source", source);
      if (std::find(reject.begin(), reject.end(), source) != reject.end()) {
        return absl::InvalidArgumentError(StrCat(where, ": the source does not exist"));
      }
      // As kubelet's hostPath DirectoryOrCreate and CRI-O do: a missing source becomes a directory.
      RETURN_IF_ERROR(MkdirAll(source, 0755));
    }
    ASSIGN_OR_RETURN(std::string propagation, PropagationOption(m->propagation(), rootfs_propagation));
    oci::Mount bind = BindMount(source, CleanPath(m->container_path()), m->readonly(), propagation);
    bind.options.insert(bind.options.end(), features.options.begin(), features.options.end());
    bind.uid_mappings = std::move(features.uid_mappings);
    bind.gid_mappings = std::move(features.gid_mappings);
    RemoveMountAt(mounts, m->container_path());
    mounts.push_back(std::move(bind));
  }
  return absl::OkStatus();
}

absl::Status AddDevice(const std::string& host_path, const std::string& container_path,
                       const std::string& permissions, oci::Linux& linux) {
  struct stat st;
  if (::stat(host_path.c_str(), &st) != 0) return ErrnoError("stat device", host_path);
  if (S_ISDIR(st.st_mode)) {
    ASSIGN_OR_RETURN(std::vector<oci::Device> found, oci::HostDevices(host_path));
    for (oci::Device& d : found) {
      // HostDevices names them as under /dev; re-root them under the requested container path.
      std::string rel = d.path.substr(std::string_view("/dev").size());
      RETURN_IF_ERROR(AddDevice(JoinPath(host_path, rel), JoinPath(container_path, rel), permissions, linux));
    }
    return absl::OkStatus();
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(StrCat("device ", host_path, " is not a character or block device"));
  }
  for (char c : permissions) {
    if (c != 'r' && c != 'w' && c != 'm') {
      return absl::InvalidArgumentError(
          StrCat("device ", host_path, ": permissions \"", permissions, "\" are not a subset of \"rwm\""));
    }
  }
  oci::Device d;
  d.path = CleanPath(container_path);
  d.type = S_ISCHR(st.st_mode) ? "c" : "b";
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.file_mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  oci::DeviceCgroupRule rule;
  rule.allow = true;
  rule.type = d.type;
  rule.major = d.major;
  rule.minor = d.minor;
  rule.access = permissions.empty() ? "rwm" : permissions;
  linux.devices.push_back(std::move(d));
  if (!linux.resources) linux.resources.emplace();
  linux.resources->devices.push_back(std::move(rule));
  return absl::OkStatus();
}

absl::Status SetResources(const ContainerSpecInput& in, oci::Spec& spec) {
  const v1::LinuxContainerResources& r = in.config->linux().resources();
  ASSIGN_OR_RETURN(oci::LinuxResources res, ToOciResources(r, in.cgroup_v2));
  oci::LinuxResources& out = spec.linux->resources ? *spec.linux->resources : spec.linux->resources.emplace();
  // Keep the device rules the default spec and the CRI devices put there.
  res.devices = std::move(out.devices);
  out = std::move(res);
  spec.process->oom_score_adj = static_cast<int32_t>(r.oom_score_adj());
  return absl::OkStatus();
}

absl::Status SetNamespaces(const ContainerSpecInput& in, oci::Spec& spec) {
  const v1::NamespaceOption& ns = in.config->linux().security_context().namespace_options();
  RETURN_IF_ERROR(CheckContainerUserNamespace(ns, in.sandbox.userns));
  std::vector<oci::Namespace> out;
  auto add = [&](oci::NamespaceType t, std::string path) { out.push_back({t, std::move(path)}); };
  if (!in.sandbox.userns_path.empty()) add(oci::NamespaceType::kUser, in.sandbox.userns_path);
  switch (ns.pid()) {
    case v1::POD:
      if (!in.sandbox.pidns_path.empty()) {
        add(oci::NamespaceType::kPid, in.sandbox.pidns_path);
      } else if (!in.sandbox.host_pid) {
        add(oci::NamespaceType::kPid, "");
      }
      break;
    case v1::CONTAINER:
      add(oci::NamespaceType::kPid, "");
      break;
    case v1::TARGET:
      if (in.target_pidns_path.empty()) {
        return absl::InvalidArgumentError(
            StrCat("pid namespace target \"", ns.target_id(), "\" is not running"));
      }
      add(oci::NamespaceType::kPid, in.target_pidns_path);
      break;
    case v1::NODE:
      break;
    default:
      return absl::InvalidArgumentError("unknown pid namespace mode");
  }
  // Network, IPC and UTS are the pod's (its pinned namespaces), or the host's when the pod uses them.
  if (!in.sandbox.netns_path.empty()) add(oci::NamespaceType::kNetwork, in.sandbox.netns_path);
  if (!in.sandbox.ipcns_path.empty()) add(oci::NamespaceType::kIpc, in.sandbox.ipcns_path);
  if (!in.sandbox.utsns_path.empty()) add(oci::NamespaceType::kUts, in.sandbox.utsns_path);
  add(oci::NamespaceType::kMount, "");
  if (in.cgroup_v2) add(oci::NamespaceType::kCgroup, "");
  spec.linux->namespaces = std::move(out);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<oci::Rlimit>> DefaultRlimits(const std::vector<std::string>& ulimits) {
  std::vector<oci::Rlimit> out;
  for (const std::string& u : ulimits) {
    auto kv = SplitOnce(u, '=');
    auto sh = kv ? SplitOnce(kv->second, ':') : std::nullopt;
    auto soft = sh ? ParseUint64(sh->first) : std::nullopt;
    auto hard = sh ? ParseUint64(sh->second) : std::nullopt;
    if (!soft || !hard) return absl::InvalidArgumentError(StrCat("default_ulimits: bad entry \"", u, "\""));
    out.push_back({StrCat("RLIMIT_", ToUpper(kv->first)), *hard, *soft});
  }
  return out;
}

// Deprecated CRI fields that older kubelets still send.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const std::string& DeprecatedAppArmorProfile(const v1::LinuxContainerSecurityContext& sc) {
  return sc.apparmor_profile();
}
#pragma GCC diagnostic pop

bool HostHasAppArmor() {
  auto enabled = ReadFile("/sys/module/apparmor/parameters/enabled", 16);
  return enabled.ok() && !enabled->empty() && (*enabled)[0] == 'Y';
}

absl::Status CheckAppArmor(const v1::LinuxContainerSecurityContext& sc) {
  bool localhost = (sc.has_apparmor() && sc.apparmor().profile_type() == v1::SecurityProfile::Localhost) ||
                   DeprecatedAppArmorProfile(sc).starts_with("localhost/");
  if (localhost && !HostHasAppArmor()) {
    return absl::InvalidArgumentError(
        "an AppArmor profile was requested but AppArmor is not enabled on this host");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ContainerArgs(const v1::ContainerConfig& config,
                                                       const image::ImageConfig& image) {
  std::vector<std::string> args;
  if (!config.command().empty()) {
    args.assign(config.command().begin(), config.command().end());
    args.insert(args.end(), config.args().begin(), config.args().end());
  } else {
    if (image.entrypoint) args = *image.entrypoint;
    if (!config.args().empty()) {
      args.insert(args.end(), config.args().begin(), config.args().end());
    } else if (image.cmd) {
      args.insert(args.end(), image.cmd->begin(), image.cmd->end());
    }
  }
  if (args.empty()) {
    return absl::InvalidArgumentError("no command: the container config and the image specify none");
  }
  return args;
}

std::vector<std::string> MergeEnv(const std::vector<std::string>& default_env,
                                  const std::vector<std::string>& image_env,
                                  const v1::ContainerConfig& config) {
  std::vector<std::string> env;
  for (const std::string& e : default_env) SetEnv(env, e);
  for (const std::string& e : image_env) SetEnv(env, e);
  for (const v1::KeyValue& kv : config.envs()) SetEnv(env, StrCat(kv.key(), "=", kv.value()));
  return env;
}

absl::StatusOr<std::vector<std::string>> ContainerCapabilities(const std::vector<std::string>& defaults,
                                                               const v1::Capability& request,
                                                               const std::vector<std::string>& host_caps) {
  auto has_all = [](const auto& list) {
    return std::any_of(list.begin(), list.end(), [](const std::string& s) { return ToUpper(s) == "ALL"; });
  };
  std::vector<std::string> add(request.add_capabilities().begin(), request.add_capabilities().end());
  std::vector<std::string> drop(request.drop_capabilities().begin(), request.drop_capabilities().end());
  ASSIGN_OR_RETURN(std::vector<std::string> added, oci::CanonicalCapabilityNames(add, host_caps));
  std::vector<std::string> caps;
  if (has_all(add)) {
    caps = host_caps;
  } else if (!has_all(drop)) {
    ASSIGN_OR_RETURN(caps, oci::CanonicalCapabilityNames(defaults, host_caps));
  }
  for (const std::string& c : added) {
    if (std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
  }
  if (!has_all(drop)) {
    std::vector<std::string> dropped;
    for (const std::string& d : drop) {
      ASSIGN_OR_RETURN(std::string name, oci::CanonicalCapabilityName(d));
      dropped.push_back(name);
    }
    caps.erase(std::remove_if(caps.begin(), caps.end(),
                              [&](const std::string& c) {
                                return std::find(dropped.begin(), dropped.end(), c) != dropped.end();
                              }),
               caps.end());
  }
  return caps;
}

absl::StatusOr<oci::LinuxResources> ToOciResources(const v1::LinuxContainerResources& r, bool cgroup_v2) {
  oci::LinuxResources res;
  if (r.cpu_shares() > 0 || r.cpu_quota() != 0 || r.cpu_period() > 0 || !r.cpuset_cpus().empty() ||
      !r.cpuset_mems().empty()) {
    oci::CpuResources& cpu = res.cpu.emplace();
    if (r.cpu_shares() > 0) cpu.shares = static_cast<uint64_t>(r.cpu_shares());
    if (r.cpu_quota() != 0) cpu.quota = r.cpu_quota();
    if (r.cpu_period() > 0) cpu.period = static_cast<uint64_t>(r.cpu_period());
    cpu.cpus = r.cpuset_cpus();
    cpu.mems = r.cpuset_mems();
  }
  if (r.memory_limit_in_bytes() > 0 || r.memory_swap_limit_in_bytes() > 0) {
    oci::MemoryResources& mem = res.memory.emplace();
    if (r.memory_limit_in_bytes() > 0) mem.limit = r.memory_limit_in_bytes();
    if (r.memory_swap_limit_in_bytes() > 0) mem.swap = r.memory_swap_limit_in_bytes();
  }
  for (const v1::HugepageLimit& h : r.hugepage_limits())
    res.hugepage_limits.push_back({h.page_size(), h.limit()});
  if (!r.unified().empty()) {
    if (!cgroup_v2)
      return absl::InvalidArgumentError("resources.unified needs the cgroup v2 unified hierarchy");
    for (const auto& [k, v] : r.unified()) res.unified[k] = v;
  }
  return res;
}

std::string CgroupsPath(const std::string& cgroup_manager, const std::string& parent, const std::string& id) {
  if (cgroup_manager == "systemd") {
    return StrCat(parent.empty() ? "system.slice" : parent, ":cricket:", id);
  }
  return StrCat(parent.empty() ? "/cricket" : CleanPath(parent), "/cricket-", id);
}

absl::StatusOr<oci::Spec> BuildContainerSpec(const ContainerSpecInput& in) {
  const v1::ContainerConfig& cfg = *in.config;
  const v1::LinuxContainerSecurityContext& sc = cfg.linux().security_context();
  const Config& daemon = *in.daemon;
  if (!cfg.has_metadata() || cfg.metadata().name().empty()) {
    return absl::InvalidArgumentError("container config: metadata.name is required");
  }
  RETURN_IF_ERROR(CheckAppArmor(sc));

  oci::DefaultSpecOptions opts;
  opts.privileged = sc.privileged();
  opts.host_capabilities = in.host_capabilities;
  opts.terminal = cfg.tty();
  opts.cgroup_namespace = in.cgroup_v2;
  opts.add_inheritable_capabilities = daemon.runtime.add_inheritable_capabilities;
  if (!sc.privileged()) {
    ASSIGN_OR_RETURN(opts.capabilities, ContainerCapabilities(daemon.runtime.default_capabilities,
                                                              sc.capabilities(), in.host_capabilities));
    opts.seccomp = in.seccomp;
  }
  ASSIGN_OR_RETURN(oci::Spec spec, oci::DefaultSpec(opts));
  oci::Process& proc = *spec.process;
  oci::Linux& linux = *spec.linux;

  // Root and process.
  bool readonly_rootfs = sc.readonly_rootfs() || daemon.runtime.read_only;
  spec.root = oci::Root{in.rootfs, readonly_rootfs};
  ASSIGN_OR_RETURN(proc.args, ContainerArgs(cfg, *in.image));
  proc.env = MergeEnv(daemon.runtime.default_env, in.image->env, cfg);
  if (!HasEnv(proc.env, "PATH")) proc.env.insert(proc.env.begin(), std::string(oci::kDefaultPathEnv));
  if (!in.sandbox.hostname.empty() && !HasEnv(proc.env, "HOSTNAME")) {
    proc.env.push_back(StrCat("HOSTNAME=", in.sandbox.hostname));
  }
  if (cfg.tty() && !HasEnv(proc.env, "TERM")) proc.env.push_back("TERM=xterm");
  proc.cwd = !cfg.working_dir().empty() ? cfg.working_dir()
                                        : (!in.image->working_dir.empty() ? in.image->working_dir : "/");
  if (proc.cwd.front() != '/') {
    return absl::InvalidArgumentError(StrCat("working_dir \"", proc.cwd, "\" is not absolute"));
  }
  // A group without a user would pair it with whatever user the image names; kubelet refuses that too.
  if (sc.has_run_as_group() && !sc.has_run_as_user() && sc.run_as_username().empty()) {
    return absl::InvalidArgumentError("run_as_group is set without run_as_user or run_as_username");
  }
  UserRequest user_req;
  if (sc.has_run_as_user()) user_req.run_as_user = sc.run_as_user().value();
  user_req.run_as_username = sc.run_as_username();
  if (sc.has_run_as_group()) user_req.run_as_group = sc.run_as_group().value();
  user_req.supplemental_groups.assign(sc.supplemental_groups().begin(), sc.supplemental_groups().end());
  user_req.strict_supplemental_groups = sc.supplemental_groups_policy() == v1::Strict;
  user_req.image_user = in.image->user;
  ASSIGN_OR_RETURN(ResolvedUser user, ResolveUserInRootfs(user_req, in.rootfs));
  proc.user.uid = user.uid;
  proc.user.gid = user.gid;
  proc.user.additional_gids = user.additional_gids;
  if (!HasEnv(proc.env, "HOME")) proc.env.push_back(StrCat("HOME=", user.home));
  proc.no_new_privileges = sc.no_new_privs();
  if (!sc.privileged() && sc.capabilities().add_ambient_capabilities_size() > 0) {
    std::vector<std::string> ambient(sc.capabilities().add_ambient_capabilities().begin(),
                                     sc.capabilities().add_ambient_capabilities().end());
    ASSIGN_OR_RETURN(proc.capabilities->ambient,
                     oci::CanonicalCapabilityNames(ambient, in.host_capabilities));
    for (const std::string& c : proc.capabilities->ambient) {
      if (std::find(proc.capabilities->inheritable.begin(), proc.capabilities->inheritable.end(), c) ==
          proc.capabilities->inheritable.end()) {
        proc.capabilities->inheritable.push_back(c);
      }
    }
  }
  ASSIGN_OR_RETURN(proc.rlimits, DefaultRlimits(daemon.runtime.default_ulimits));

  // Mounts: the defaults, the pod's files, the image's declared volumes, then the CRI mounts (which win
  // at the same destination).
  AddSandboxMounts(in, readonly_rootfs, spec.mounts);
  RETURN_IF_ERROR(AddDeclaredVolumes(in, proc.user.uid, proc.user.gid, spec.mounts));
  std::string rootfs_propagation;
  RETURN_IF_ERROR(AddCriMounts(in, spec.mounts, rootfs_propagation));
  if (!rootfs_propagation.empty()) linux.rootfs_propagation = rootfs_propagation;

  // Devices.
  size_t first_requested = linux.devices.size();
  if (sc.privileged()) {
    const RuntimeHandler* handler = nullptr;
    if (auto it = daemon.runtimes.find(daemon.runtime.default_runtime); it != daemon.runtimes.end()) {
      handler = &it->second;
    }
    if (handler == nullptr || !handler->privileged_without_host_devices) {
      ASSIGN_OR_RETURN(linux.devices, oci::HostDevices(in.host_dev_dir));
      first_requested = 0;
    }
  }
  for (const v1::Device& d : cfg.devices()) {
    RETURN_IF_ERROR(AddDevice(d.host_path(), d.container_path(), d.permissions(), linux));
  }
  if (daemon.runtime.device_ownership_from_security_context) {
    // The requested devices (and a privileged container's host devices) belong to the container's
    // run_as_user / run_as_group instead of their host owners (0 when unset), so that a non-root
    // container can use them.
    for (size_t i = first_requested; i < linux.devices.size(); ++i) {
      linux.devices[i].uid = sc.has_run_as_user() ? sc.run_as_user().value() : 0;
      linux.devices[i].gid = sc.has_run_as_group() ? sc.run_as_group().value() : 0;
    }
  }
  if (in.cdi != nullptr) RETURN_IF_ERROR(ApplyCdiDevices(*in.cdi, in.cdi_host_devices, spec));

  // Masked and read-only paths: kubelet's lists when it sends them (none for privileged containers).
  if (!sc.privileged()) {
    if (sc.masked_paths_size() > 0)
      linux.masked_paths.assign(sc.masked_paths().begin(), sc.masked_paths().end());
    if (sc.readonly_paths_size() > 0) {
      linux.readonly_paths.assign(sc.readonly_paths().begin(), sc.readonly_paths().end());
    }
  }

  RETURN_IF_ERROR(SetNamespaces(in, spec));
  RETURN_IF_ERROR(SetResources(in, spec));
  linux.cgroups_path = CgroupsPath(daemon.runtime.cgroup_manager, in.sandbox.cgroup_parent, in.id);

  for (const auto& [k, v] : cfg.annotations()) spec.annotations[k] = v;
  spec.annotations[kAnnotationContainerType] = "container";
  spec.annotations[kAnnotationSandboxId] = in.sandbox.id;
  spec.annotations[kAnnotationContainerName] = cfg.metadata().name();
  spec.annotations[kAnnotationImageName] = cfg.image().image();
  RETURN_IF_ERROR(oci::ValidateSpec(spec));
  return spec;
}

}  // namespace cricket::server
