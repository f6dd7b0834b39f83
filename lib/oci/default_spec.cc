#include "lib/oci/default_spec.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/capabilities.h"

namespace cricket::oci {

namespace {

Mount MakeMount(std::string destination, std::string type, std::string source,
                std::vector<std::string> options) {
  Mount m;
  m.destination = std::move(destination);
  m.type = std::move(type);
  m.source = std::move(source);
  m.options = std::move(options);
  return m;
}

Device CharDevice(std::string path, int64_t major, int64_t minor) {
  Device d;
  d.path = std::move(path);
  d.type = "c";
  d.major = major;
  d.minor = minor;
  d.file_mode = 0666;
  d.uid = 0;
  d.gid = 0;
  return d;
}

DeviceCgroupRule Rule(bool allow, std::string type, std::optional<int64_t> major,
                      std::optional<int64_t> minor, std::string access) {
  DeviceCgroupRule r;
  r.allow = allow;
  r.type = std::move(type);
  r.major = major;
  r.minor = minor;
  r.access = std::move(access);
  return r;
}

// Directories and files of the host's /dev that a privileged container must not get as device nodes:
// the runtime mounts its own pts, shm and mqueue, /dev/fd is a symlink farm, and /dev/console is the
// host's console.
bool SkipHostDevPath(std::string_view rel) {
  for (std::string_view skip : {"pts", "shm", "mqueue", "fd", "console", ".lxc", ".lxd-mounts", ".udev"}) {
    if (rel == skip) return true;
  }
  return false;
}

absl::Status CollectHostDevices(const std::string& dir, const std::string& rel, std::vector<Device>* out) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    std::string rel_path = rel.empty() ? name : StrCat(rel, "/", name);
    if (SkipHostDevPath(rel_path)) continue;
    std::string full = JoinPath(dir, name);
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // removed while we looked (udev churn)
      return ErrnoError("stat", full);
    }
    if (S_ISDIR(st.st_mode)) {
      RETURN_IF_ERROR(CollectHostDevices(full, rel_path, out));
      continue;
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
    Device d;
    d.path = StrCat("/dev/", rel_path);
    d.type = S_ISCHR(st.st_mode) ? "c" : "b";
    d.major = major(st.st_rdev);
    d.minor = minor(st.st_rdev);
    d.file_mode = st.st_mode & 07777;
    d.uid = st.st_uid;
    d.gid = st.st_gid;
    out->push_back(std::move(d));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Mount> DefaultMounts(bool privileged) {
  std::vector<std::string> sys_opts = {"nosuid", "noexec", "nodev"};
  std::vector<std::string> cgroup_opts = {"nosuid", "noexec", "nodev", "relatime"};
  sys_opts.push_back(privileged ? "rw" : "ro");
  cgroup_opts.push_back(privileged ? "rw" : "ro");
  return {
      MakeMount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      MakeMount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      MakeMount("/dev/pts", "devpts", "devpts",
                {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      MakeMount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      MakeMount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      MakeMount("/sys", "sysfs", "sysfs", std::move(sys_opts)),
      MakeMount("/sys/fs/cgroup", "cgroup", "cgroup", std::move(cgroup_opts)),
  };
}

std::vector<std::string> DefaultMaskedPaths() {
  return {"/proc/acpi",
          "/proc/asound",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
          "/sys/devices/virtual/powercap"};
}

std::vector<std::string> DefaultReadonlyPaths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

std::vector<Device> DefaultDevices(bool terminal) {
  std::vector<Device> devices = {
      CharDevice("/dev/null", 1, 3),   CharDevice("/dev/zero", 1, 5),    CharDevice("/dev/full", 1, 7),
      CharDevice("/dev/random", 1, 8), CharDevice("/dev/urandom", 1, 9), CharDevice("/dev/tty", 5, 0),
      CharDevice("/dev/ptmx", 5, 2),
  };
  if (terminal) devices.push_back(CharDevice("/dev/console", 5, 1));
  return devices;
}

std::vector<DeviceCgroupRule> DefaultDeviceCgroupRules() {
  std::vector<DeviceCgroupRule> rules = {
      Rule(false, "a", std::nullopt, std::nullopt, "rwm"),
      Rule(true, "c", std::nullopt, std::nullopt, "m"),
      Rule(true, "b", std::nullopt, std::nullopt, "m"),
  };
  for (const Device& d : DefaultDevices(/*terminal=*/true))
    rules.push_back(Rule(true, "c", d.major, d.minor, "rwm"));
  rules.push_back(Rule(true, "c", 136, std::nullopt, "rwm"));  // devpts slaves
  rules.push_back(Rule(true, "c", 10, 200, "rwm"));            // /dev/net/tun
  return rules;
}

std::vector<DeviceCgroupRule> PrivilegedDeviceCgroupRules() {
  return {Rule(true, "a", std::nullopt, std::nullopt, "rwm")};
}

absl::StatusOr<std::vector<Device>> HostDevices(const std::string& dev_dir) {
  std::vector<Device> out;
  RETURN_IF_ERROR(CollectHostDevices(dev_dir, "", &out));
  std::sort(out.begin(), out.end(), [](const Device& a, const Device& b) { return a.path < b.path; });
  return out;
}

absl::StatusOr<Spec> DefaultSpec(const DefaultSpecOptions& options) {
  std::vector<std::string> caps;
  if (options.privileged) {
    if (options.host_capabilities.empty()) {
      return absl::InvalidArgumentError("privileged spec: the host's grantable capabilities are required");
    }
    ASSIGN_OR_RETURN(caps, CanonicalCapabilityNames(options.host_capabilities, {}));
  } else {
    ASSIGN_OR_RETURN(caps, CanonicalCapabilityNames(options.capabilities, options.host_capabilities));
  }

  Spec spec;
  spec.oci_version = std::string(kOciVersion);
  spec.root = Root{.path = "rootfs", .readonly = false};
  spec.mounts = DefaultMounts(options.privileged);

  Process& p = spec.process.emplace();
  p.terminal = options.terminal;
  p.cwd = "/";
  p.env = {std::string(kDefaultPathEnv)};
  Capabilities& c = p.capabilities.emplace();
  c.bounding = caps;
  c.effective = caps;
  c.permitted = caps;
  if (options.add_inheritable_capabilities) c.inheritable = caps;

  Linux& l = spec.linux.emplace();
  for (NamespaceType t : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kIpc,
                          NamespaceType::kUts, NamespaceType::kMount}) {
    l.namespaces.push_back(Namespace{.type = t, .path = ""});
  }
  if (options.cgroup_namespace) l.namespaces.push_back(Namespace{.type = NamespaceType::kCgroup, .path = ""});
  LinuxResources& r = l.resources.emplace();
  if (options.privileged) {
    r.devices = PrivilegedDeviceCgroupRules();
  } else {
    r.devices = DefaultDeviceCgroupRules();
    l.masked_paths = DefaultMaskedPaths();
    l.readonly_paths = DefaultReadonlyPaths();
    l.seccomp = options.seccomp;
  }
  return spec;
}

}  // namespace cricket::oci
