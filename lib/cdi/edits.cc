#include "lib/cdi/edits.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::cdi {

namespace {

std::string_view EnvKey(std::string_view kv) { return kv.substr(0, kv.find('=')); }

void SetEnv(std::vector<std::string>& env, const std::string& kv) {
  for (std::string& e : env) {
    if (EnvKey(e) == EnvKey(kv)) {
      e = kv;
      return;
    }
  }
  env.push_back(kv);
}

// Fills what a device node leaves out from the host node. A node given with type and major (or a
// fifo) needs no host node; otherwise the host node must exist and have the same type.
absl::StatusOr<oci::Device> ToOciDevice(const DeviceNode& d, const HostDeviceLookup& lookup) {
  std::string host_path = d.host_path.empty() ? d.path : d.host_path;
  bool complete = !d.type.empty() && (d.major != 0 || d.type == "p");
  oci::Device out;
  out.path = CleanPath(d.path);
  out.type = d.type;
  out.major = d.major;
  out.minor = d.minor;
  out.file_mode = d.file_mode;
  out.uid = d.uid;
  out.gid = d.gid;
  absl::StatusOr<HostDevice> host = lookup(host_path);
  if (!host.ok()) {
    if (complete) return out;
    return Annotate(host.status(), StrCat("device node ", d.path, ": host device ", host_path));
  }
  if (!out.file_mode) out.file_mode = host->mode;
  if (complete) return out;
  // The spec's "c" also stands for "u" (unbuffered character device).
  std::string type = d.type == "u" ? "c" : d.type;
  if (!type.empty() && type != host->type) {
    return absl::InvalidArgumentError(StrCat("device node ", d.path, ": type \"", d.type,
                                             "\" but host device ", host_path, " is of type \"", host->type,
                                             "\""));
  }
  if (out.type.empty()) out.type = host->type;
  out.major = host->major;
  out.minor = host->minor;
  return out;
}

void AddDeviceNode(oci::Device dev, const std::string& permissions, const oci::User& user,
                   oci::Linux& linux) {
  if (!dev.uid && user.uid > 0) dev.uid = user.uid;
  if (!dev.gid && user.gid > 0) dev.gid = user.gid;
  std::erase_if(linux.devices, [&](const oci::Device& d) { return CleanPath(d.path) == dev.path; });
  if (dev.type == "b" || dev.type == "c" || dev.type == "u") {
    oci::DeviceCgroupRule rule;
    rule.allow = true;
    rule.type = dev.type == "b" ? "b" : "c";
    rule.major = dev.major;
    rule.minor = dev.minor;
    rule.access = permissions.empty() ? "rwm" : permissions == "none" ? "" : permissions;
    if (!linux.resources) linux.resources.emplace();
    // "none" grants nothing: an allow rule with empty access would mean "rwm" in the OCI spec.
    if (!rule.access.empty()) linux.resources->devices.push_back(std::move(rule));
  }
  linux.devices.push_back(std::move(dev));
}

size_t Depth(const std::string& path) {
  std::string clean = CleanPath(StrCat("/", path));
  return clean == "/" ? 0 : static_cast<size_t>(std::count(clean.begin(), clean.end(), '/'));
}

void AddMount(const Mount& m, std::vector<oci::Mount>& mounts) {
  std::string dst = CleanPath(m.container_path);
  std::erase_if(mounts, [&](const oci::Mount& x) { return CleanPath(x.destination) == dst; });
  oci::Mount out;
  out.destination = m.container_path;
  out.source = m.host_path;
  out.type = m.type;
  out.options = m.options;
  mounts.push_back(std::move(out));
}

std::vector<oci::Hook>* HookList(oci::Hooks& hooks, std::string_view name) {
  if (name == "prestart") return &hooks.prestart;
  if (name == "createRuntime") return &hooks.create_runtime;
  if (name == "createContainer") return &hooks.create_container;
  if (name == "startContainer") return &hooks.start_container;
  if (name == "poststart") return &hooks.poststart;
  if (name == "poststop") return &hooks.poststop;
  return nullptr;
}

}  // namespace

absl::StatusOr<HostDevice> StatHostDevice(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat", path);
  HostDevice d;
  if (S_ISCHR(st.st_mode)) {
    d.type = "c";
  } else if (S_ISBLK(st.st_mode)) {
    d.type = "b";
  } else if (S_ISFIFO(st.st_mode)) {
    d.type = "p";
  } else {
    return absl::InvalidArgumentError(StrCat(path, " is not a device node"));
  }
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.mode = st.st_mode & 07777;
  return d;
}

absl::Status ApplyEdits(const ContainerEdits& edits, const HostDeviceLookup& lookup, oci::Spec& spec) {
  if (!spec.process || !spec.linux) return absl::InvalidArgumentError("the OCI spec has no process or linux");
  oci::Process& proc = *spec.process;
  oci::Linux& linux = *spec.linux;
  for (const std::string& e : edits.env) SetEnv(proc.env, e);
  for (const DeviceNode& d : edits.device_nodes) {
    ASSIGN_OR_RETURN(oci::Device dev, ToOciDevice(d, lookup));
    AddDeviceNode(std::move(dev), d.permissions, proc.user, linux);
  }
  for (const NetDevice& n : edits.net_devices)
    linux.net_devices[n.host_interface_name] = oci::NetDevice{n.name};
  if (!edits.mounts.empty()) {
    for (const Mount& m : edits.mounts) AddMount(m, spec.mounts);
    std::stable_sort(spec.mounts.begin(), spec.mounts.end(), [](const oci::Mount& a, const oci::Mount& b) {
      return Depth(a.destination) < Depth(b.destination);
    });
  }
  for (const Hook& h : edits.hooks) {
    if (!spec.hooks) spec.hooks.emplace();
    std::vector<oci::Hook>* list = HookList(*spec.hooks, h.hook_name);
    if (list == nullptr) return absl::InvalidArgumentError(StrCat("unknown hook \"", h.hook_name, "\""));
    list->push_back(oci::Hook{h.path, h.args, h.env, h.timeout});
  }
  if (edits.intel_rdt) {
    const IntelRdt& r = *edits.intel_rdt;
    linux.intel_rdt = oci::IntelRdt{r.clos_id, r.schemata.value_or(std::vector<std::string>{}),
                                    r.l3_cache_schema, r.mem_bw_schema, r.enable_monitoring};
  }
  std::vector<uint32_t>& gids = proc.user.additional_gids;
  for (uint32_t g : edits.additional_gids) {
    if (g != 0 && std::find(gids.begin(), gids.end(), g) == gids.end()) gids.push_back(g);
  }
  return absl::OkStatus();
}

}  // namespace cricket::cdi
