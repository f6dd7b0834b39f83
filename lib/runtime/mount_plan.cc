// The rootfs plan: root, mounts (config.md "Mounts"), devices and /dev (config-linux.md "Devices",
// "Default Devices", "Default Filesystems"), masked and read-only paths, sysctls, hostname.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <map>
#include <set>

#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/runtime/plan_builder.h"
#include "lib/runtime/pod_namespaces.h"

namespace cricket::runtime {
namespace {

struct FlagOption {
  const char* name;
  bool clear;
  unsigned long flag;
};

constexpr FlagOption kFlagOptions[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

struct PropagationOption {
  const char* name;
  unsigned long flags;
};

constexpr PropagationOption kPropagationOptions[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct AttrOption {
  const char* name;
  bool clear;
  uint64_t attr;
};

// mount_setattr(2) attributes; atime modes are values of the MOUNT_ATTR__ATIME field.
constexpr AttrOption kRecursiveAttrOptions[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

constexpr AttrOption kRecursiveAtimeOptions[] = {
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
};

// Top-mount attributes of a bind mount from its MS_* flags.
void BindAttrs(const MountOptions& o, uint64_t* set, uint64_t* clr) {
  const std::pair<unsigned long, uint64_t> map[] = {
      {MS_RDONLY, MOUNT_ATTR_RDONLY},         {MS_NOSUID, MOUNT_ATTR_NOSUID},
      {MS_NODEV, MOUNT_ATTR_NODEV},           {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
      {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}, {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW}};
  for (const auto& [ms, attr] : map) {
    if (o.flags & ms) *set |= attr;
    if (o.clear_flags & ms) *clr |= attr;
  }
  if (o.flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
    *clr |= MOUNT_ATTR__ATIME;
    *set |= (o.flags & MS_NOATIME)       ? MOUNT_ATTR_NOATIME
            : (o.flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME
                                         : MOUNT_ATTR_RELATIME;
  }
}

// A mount's own mappings, or else the container's.
std::vector<sys::UidGidMapping> Mappings(const std::vector<oci::IdMapping>& own,
                                         const std::vector<sys::UidGidMapping>& container) {
  if (own.empty()) return container;
  std::vector<sys::UidGidMapping> out;
  for (const auto& m : own) out.push_back({m.container_id, m.host_id, m.size});
  return out;
}

bool Under(const std::string& path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

// Files under /proc that may be over-mounted (lxcfs-style views); anything else under /proc must be a
// proc mount, so that /proc/self/attr, /proc/sys and friends cannot be replaced by container data.
bool AllowedProcTarget(const std::string& dest) {
  static const std::set<std::string> kAllowed = {
      "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",  "/proc/stat",    "/proc/swaps",
      "/proc/uptime",  "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  return kAllowed.contains(dest);
}

// A cgroup mount becomes: a tmpfs with one directory (or symlink) per hierarchy; each hierarchy
// is mounted afresh inside a new cgroup namespace, or bind-mounted from the container's own cgroup.
absl::Status AddCgroupMount(const oci::Mount& m, const std::string& dest, const MountOptions& o,
                            const NamespacePlan& ns, const PlanContext& ctx, RootfsPlan* plan) {
  const unsigned long base = o.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_NOATIME);
  const bool ro = o.flags & MS_RDONLY;
  const auto& hs = ctx.host.cgroup_hierarchies;
  auto dir_for = [&](const cgroups::Hierarchy& h) -> std::string {
    for (const auto& d : ctx.cgroup_dirs) {
      if (d.hierarchy.mount_point == h.mount_point) return d.dir;
    }
    return "";
  };
  const bool pure_v2 = hs.size() == 1 && hs[0].version == 2;
  if (hs.empty())
    return absl::FailedPreconditionError(StrCat("mount ", dest, ": this host has no cgroup hierarchies"));
  if (pure_v2) {
    MountStep s;
    s.target = dest;
    s.no_symlinks = true;
    if (ns.new_cgroup_ns) {
      s.kind = MountStep::Kind::kMount;
      s.source = "cgroup2";
      s.fstype = "cgroup2";
      s.flags = base | (ro ? MS_RDONLY : 0);
    } else {
      s.kind = MountStep::Kind::kBind;
      s.source = dir_for(hs[0]);
      s.recursive = true;
      s.rattr_set = (ro ? MOUNT_ATTR_RDONLY : 0) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    }
    plan->steps.push_back(std::move(s));
    return absl::OkStatus();
  }
  MountStep tmpfs;
  tmpfs.kind = MountStep::Kind::kMount;
  tmpfs.source = "tmpfs";
  tmpfs.fstype = "tmpfs";
  tmpfs.target = dest;
  tmpfs.flags = base;
  tmpfs.data = "mode=755";
  tmpfs.no_symlinks = true;
  plan->steps.push_back(tmpfs);
  for (const auto& h : hs) {
    std::string name = BaseName(h.mount_point);
    MountStep s;
    s.target = JoinPath(dest, name);
    s.no_symlinks = true;
    if (ns.new_cgroup_ns) {
      s.kind = MountStep::Kind::kMount;
      s.source = "cgroup";
      s.fstype = h.version == 2 ? "cgroup2" : "cgroup";
      s.flags = base | (ro ? MS_RDONLY : 0);
      if (h.version == 1) s.data = Join(h.controllers, ",");
    } else {
      std::string dir = dir_for(h);
      if (dir.empty()) continue;
      s.kind = MountStep::Kind::kBind;
      s.source = dir;
      s.rattr_set = (ro ? MOUNT_ATTR_RDONLY : 0) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    }
    plan->steps.push_back(std::move(s));
    // Co-mounted controllers ("cpu,cpuacct") are also reachable by each controller's name.
    if (h.version == 1 && h.controllers.size() > 1) {
      for (const auto& c : h.controllers) {
        if (c == name || c.starts_with("name=")) continue;
        MountStep link;
        link.kind = MountStep::Kind::kSymlink;
        link.source = name;
        link.target = JoinPath(dest, c);
        plan->steps.push_back(std::move(link));
      }
    }
  }
  if (ro) {
    MountStep s;
    s.kind = MountStep::Kind::kRemount;
    s.target = dest;
    s.flags = base | MS_RDONLY;
    s.no_symlinks = true;
    plan->steps.push_back(std::move(s));
  }
  (void)m;
  return absl::OkStatus();
}

absl::Status AddMount(const oci::Mount& m, const NamespacePlan& ns, const PlanContext& ctx, RootfsPlan* plan,
                      bool* dev_bound) {
  // A relative destination is deprecated and taken relative to "/" (config.md "Mounts").
  std::string dest = CleanPath(StrCat("/", m.destination));
  MountOptions o = ParseMountOptions(m.options);
  for (const auto& ig : o.ignored) {
    if (ctx.warnings) ctx.warnings->push_back(StrCat("mount ", dest, ": option \"", ig, "\" ignored"));
  }
  const bool bind = (o.flags & MS_BIND) || m.type == "bind";
  const bool special_dir = Under(dest, "/proc") || Under(dest, "/sys") || Under(dest, "/dev");
  if (dest != "/proc" && Under(dest, "/proc") && m.type != "proc" && !AllowedProcTarget(dest)) {
    return absl::InvalidArgumentError(StrCat("mount destination ", dest, " is inside /proc: not allowed"));
  }
  if (dest == "/")
    return absl::InvalidArgumentError("mount destination \"/\" is not allowed (use root.path)");
  if (m.type == "cgroup" || m.type == "cgroup2") return AddCgroupMount(m, dest, o, ns, ctx, plan);
  MountStep s;
  s.target = dest;
  s.no_symlinks = special_dir;
  s.propagation = o.propagation;
  if (bind) {
    if (m.source.empty()) return absl::InvalidArgumentError(StrCat("bind mount on ", dest, " has no source"));
    if (dest == "/dev") *dev_bound = true;
    s.kind = MountStep::Kind::kBind;
    s.source = m.source.starts_with("/") ? CleanPath(m.source) : JoinPath(ctx.bundle, m.source);
    s.recursive = o.flags & MS_REC;
    BindAttrs(o, &s.attr_set, &s.attr_clr);
    s.rattr_set = o.rattr_set;
    s.rattr_clr = o.rattr_clr;
    if (o.idmap || o.ridmap) {
      if (m.uid_mappings.empty() && !ns.in_user_ns()) {
        return absl::InvalidArgumentError(
            StrCat("idmapped mount on ", dest, " needs uidMappings/gidMappings or a user namespace"));
      }
      RootfsPlan::IdmapRequest req;
      // Without mappings of its own the mount is idmapped like the container's user namespace: a new
      // one's maps, or the joined namespace itself.
      req.uid_map = Mappings(m.uid_mappings, ns.uid_map);
      req.gid_map = Mappings(m.gid_mappings, ns.gid_map);
      if (m.uid_mappings.empty() && ns.joins_user_ns) {
        for (const NamespaceJoin& j : ns.joins) {
          if (j.nstype == CLONE_NEWUSER) req.userns_path = j.path;
        }
      }
      s.idmap_index = static_cast<int>(plan->idmaps.size());
      s.idmap_recursive = o.ridmap;
      plan->idmaps.push_back(std::move(req));
      plan->idmap_userns_fds.push_back(-1);  // opened by the runtime before cloning
    }
  } else {
    if (m.type.empty()) return absl::InvalidArgumentError(StrCat("mount on ", dest, " has no type"));
    s.kind = MountStep::Kind::kMount;
    s.source = m.source.empty() ? m.type : m.source;
    s.fstype = m.type;
    s.flags = o.flags & ~static_cast<unsigned long>(MS_REMOUNT);
    s.data = Join(o.data, ",");
  }
  plan->steps.push_back(std::move(s));
  return absl::OkStatus();
}

void AddDevices(const oci::Spec& spec, const NamespacePlan& ns, const PlanContext& ctx, bool devpts,
                RootfsPlan* plan) {
  std::vector<oci::Device> devices = spec.linux ? spec.linux->devices : std::vector<oci::Device>{};
  std::set<std::string> seen;
  for (const auto& d : devices) seen.insert(CleanPath(d.path));
  struct Def {
    const char* path;
    unsigned maj, min;
  };
  const Def defaults[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                          {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  for (const auto& d : defaults) {
    if (seen.contains(d.path)) continue;
    oci::Device dev;
    dev.path = d.path;
    dev.type = "c";
    dev.major = d.maj;
    dev.minor = d.min;
    dev.file_mode = 0666;
    devices.push_back(dev);
  }
  for (const auto& d : devices) {
    MountStep s;
    s.kind = MountStep::Kind::kDevice;
    s.target = CleanPath(d.path);
    s.no_symlinks = true;
    mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
    s.mode = type | (d.file_mode.value_or(0666) & 07777);
    s.dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    s.uid = d.uid.value_or(0);
    s.gid = d.gid.value_or(0);
    const auto& hd = ctx.host.host_devices;
    if (std::find(hd.begin(), hd.end(), s.target) != hd.end()) s.source = s.target;
    s.bind_device = ns.in_user_ns() && !s.source.empty();
    plan->steps.push_back(std::move(s));
  }
  std::vector<std::pair<std::string, std::string>> links = {{"/proc/self/fd", "/dev/fd"},
                                                            {"/proc/self/fd/0", "/dev/stdin"},
                                                            {"/proc/self/fd/1", "/dev/stdout"},
                                                            {"/proc/self/fd/2", "/dev/stderr"}};
  if (ctx.host.kcore_exists) links.emplace_back("/proc/kcore", "/dev/core");
  if (devpts && !seen.contains("/dev/ptmx")) links.emplace_back("pts/ptmx", "/dev/ptmx");
  for (auto& [target, path] : links) {
    MountStep s;
    s.kind = MountStep::Kind::kSymlink;
    s.source = target;
    s.target = path;
    plan->steps.push_back(std::move(s));
  }
  if (!devpts && !seen.contains("/dev/ptmx")) {
    MountStep s;
    s.kind = MountStep::Kind::kDevice;
    s.target = "/dev/ptmx";
    s.no_symlinks = true;
    s.mode = S_IFCHR | 0666;
    s.dev = makedev(5, 2);
    plan->steps.push_back(std::move(s));
  }
}

unsigned long ParseRootfsPropagation(const std::string& v, absl::Status* status) {
  if (v.empty()) return 0;
  for (const auto& p : kPropagationOptions) {
    if (v == p.name) return p.flags;
  }
  *status = absl::InvalidArgumentError(StrCat("linux.rootfsPropagation: unknown value \"", v, "\""));
  return 0;
}

// Sysctls must be namespaced, and in a namespace of the container's own (config-linux.md "Sysctl":
// the runtime changes them for the container only).
absl::Status CheckSysctl(const std::string& key, const oci::Spec& spec) {
  auto has_new = [&](oci::NamespaceType t) {
    const oci::Namespace* ns = spec.linux ? spec.linux->FindNamespace(t) : nullptr;
    return ns != nullptr;
  };
  std::string k = key;
  std::replace(k.begin(), k.end(), '/', '.');
  absl::StatusOr<std::string> ns = SysctlNamespace(key);  // the one rule, shared with pods' namespaces
  if (ns.ok() && *ns == "ipc") {
    if (!has_new(oci::NamespaceType::kIpc)) {
      return absl::InvalidArgumentError(
          StrCat("sysctl \"", key, "\" needs the container's own IPC namespace"));
    }
    return absl::OkStatus();
  }
  if (ns.ok() && *ns == "net") {
    if (!has_new(oci::NamespaceType::kNetwork)) {
      return absl::InvalidArgumentError(
          StrCat("sysctl \"", key, "\" is not allowed in the host's network namespace"));
    }
    return absl::OkStatus();
  }
  if (k == "kernel.domainname" && has_new(oci::NamespaceType::kUts)) return absl::OkStatus();
  if (k == "kernel.hostname" || k == "kernel.domainname") {
    return absl::InvalidArgumentError(
        StrCat("sysctl \"", key, "\": set hostname/domainname in the spec instead"));
  }
  return absl::InvalidArgumentError(
      StrCat("sysctl \"", key, "\" is not namespaced and would change the host"));
}

}  // namespace

MountOptions ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions o;
  for (const std::string& opt : options) {
    bool done = false;
    for (const auto& f : kFlagOptions) {
      if (opt != f.name) continue;
      if (f.clear) {
        o.flags &= ~f.flag;
        o.clear_flags |= f.flag;
      } else {
        o.flags |= f.flag;
        o.clear_flags &= ~f.flag;
      }
      done = true;
    }
    for (const auto& p : kPropagationOptions) {
      if (opt == p.name) {
        o.propagation = p.flags;
        done = true;
      }
    }
    for (const auto& a : kRecursiveAttrOptions) {
      if (opt != a.name) continue;
      if (a.clear) {
        o.rattr_set &= ~a.attr;
        o.rattr_clr |= a.attr;
      } else {
        o.rattr_set |= a.attr;
        o.rattr_clr &= ~a.attr;
      }
      done = true;
    }
    for (const auto& a : kRecursiveAtimeOptions) {
      if (opt != a.name) continue;
      o.rattr_set = (o.rattr_set & ~static_cast<uint64_t>(MOUNT_ATTR__ATIME)) | a.attr;
      o.rattr_clr |= MOUNT_ATTR__ATIME;
      done = true;
    }
    if (opt == "idmap") o.idmap = done = true;
    if (opt == "ridmap") o.ridmap = done = true;
    if (opt == "tmpcopyup" || opt == "rro_if_possible") {
      o.ignored.push_back(opt);
      done = true;
    }
    if (!done) o.data.push_back(opt);
  }
  return o;
}

absl::StatusOr<std::string> SysctlPath(const std::string& key) {
  std::string rel = key;
  if (key.find('/') == std::string::npos) std::replace(rel.begin(), rel.end(), '.', '/');
  for (std::string_view c : Split(rel, '/')) {
    if (c.empty() || c == "." || c == "..") {
      return absl::InvalidArgumentError(StrCat("invalid sysctl name \"", key, "\""));
    }
  }
  return StrCat("/proc/sys/", rel);
}

absl::StatusOr<RootfsPlan> BuildRootfsPlan(const oci::Spec& spec, const NamespacePlan& ns,
                                           const PlanContext& ctx) {
  if (!spec.root || spec.root->path.empty()) return absl::InvalidArgumentError("root.path is required");
  RootfsPlan plan;
  plan.rootfs =
      spec.root->path.starts_with("/") ? CleanPath(spec.root->path) : JoinPath(ctx.bundle, spec.root->path);
  plan.readonly_root = spec.root->readonly;
  absl::Status status;
  const std::string prop = spec.linux ? spec.linux->rootfs_propagation : "";
  plan.rootfs_propagation = ParseRootfsPropagation(prop, &status);
  RETURN_IF_ERROR(status);
  if (plan.rootfs_propagation & MS_SHARED) {
    plan.host_propagation = MS_REC | MS_SHARED;
    for (std::string p = plan.rootfs;; p = DirName(p)) {
      plan.rootfs_mount_candidates.push_back(p);
      if (p == "/" || p == "." || p.empty()) break;
    }
  } else {
    plan.host_propagation =
        MS_REC | ((plan.rootfs_propagation & (MS_PRIVATE | MS_UNBINDABLE)) ? MS_PRIVATE : MS_SLAVE);
  }
  bool dev_bound = false, devpts = false, dev_mounted = false;
  for (const oci::Mount& m : spec.mounts) {
    RETURN_IF_ERROR(AddMount(m, ns, ctx, &plan, &dev_bound));
    std::string dest = CleanPath(StrCat("/", m.destination));
    devpts |= m.type == "devpts" && dest == "/dev/pts";
    dev_mounted |= dest == "/dev";
  }
  plan.setup_dev = !dev_bound;
  if (plan.setup_dev) AddDevices(spec, ns, ctx, devpts, &plan);
  if (spec.process && spec.process->terminal) plan.console = plan.setup_dev;
  if (spec.process) plan.cwd = spec.process->cwd;
  if (spec.linux) {
    for (const auto& [key, value] : spec.linux->sysctl) {
      RETURN_IF_ERROR(CheckSysctl(key, spec));
      ASSIGN_OR_RETURN(std::string path, SysctlPath(key));
      plan.sysctls.push_back({path, value});
    }
    for (const auto& p : spec.linux->readonly_paths) plan.readonly_paths.push_back(CleanPath(p));
    for (const auto& p : spec.linux->masked_paths) plan.masked_paths.push_back(CleanPath(p));
  }
  // A UTS namespace of the container's own: new, or joined by path (a pod's).
  const bool new_uts = spec.linux && spec.linux->FindNamespace(oci::NamespaceType::kUts) != nullptr;
  if (!spec.hostname.empty()) {
    if (!new_uts)
      return absl::InvalidArgumentError("hostname is set but the container has no UTS namespace of its own");
    plan.hostname = spec.hostname;
    plan.set_hostname = true;
  }
  if (!spec.domainname.empty()) {
    if (!new_uts) {
      return absl::InvalidArgumentError(
          "domainname is set but the container has no UTS namespace of its own");
    }
    plan.domainname = spec.domainname;
    plan.set_domainname = true;
  }
  (void)dev_mounted;
  return plan;
}

}  // namespace cricket::runtime
