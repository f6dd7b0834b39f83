// The Container Device Interface (CDI) spec file model: what a device vendor writes into /etc/cdi or
// /var/run/cdi to describe devices a container runtime can hand to containers, parsed from JSON or YAML
// and validated.
//
// https://github.com/cncf-tags/container-device-interface/blob/main/SPEC.md (spec versions 0.3.0 to
// 1.1.0). The JSON property names are the spec's; the C++ names are their snake_case forms.
//
// As the spec's reference loader does, parsing refuses unknown properties and a cdiVersion lower than
// the features the file uses (annotations need 0.6.0, intelRdt 0.7.0, ...): a spec that cricket would
// only half understand is an error naming the file and the property, never silently narrowed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cdi {

// containerEdits.deviceNodes[]: a device node the container gets (and the device cgroup rule for it).
struct DeviceNode {
  std::string path;       // inside the container
  std::string host_path;  // "hostPath" (0.5.0); "" means the same as `path`
  std::string type;       // "b", "c", "u", "p", or "" to take it from the host's node
  int64_t major = 0;      // 0 (with type "") to take it from the host's node
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;  // "fileMode": permission bits
  std::string permissions;      // cgroup access, subset of "rwm"; "" means "rwm", "none" means no access
  std::optional<uint32_t> uid;  // owner inside the container
  std::optional<uint32_t> gid;
  bool operator==(const DeviceNode&) const = default;
};

// containerEdits.mounts[]: a mount added to the container (replacing one at the same containerPath).
struct Mount {
  std::string host_path;       // "hostPath"
  std::string container_path;  // "containerPath"
  std::vector<std::string> options;
  std::string type;  // (0.4.0) "" for a bind mount named by its options
  bool operator==(const Mount&) const = default;
};

// containerEdits.hooks[]: an OCI hook. hook_name is one of prestart, createRuntime, createContainer,
// startContainer, poststart, poststop.
struct Hook {
  std::string hook_name;  // "hookName"
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int32_t> timeout;  // seconds, > 0
  bool operator==(const Hook&) const = default;
};

// containerEdits.intelRdt (0.7.0; schemata and enableMonitoring 1.1.0).
struct IntelRdt {
  std::string clos_id;  // "closID"
  std::string l3_cache_schema;
  std::string mem_bw_schema;
  std::optional<std::vector<std::string>> schemata;
  bool enable_monitoring = false;
  bool operator==(const IntelRdt&) const = default;
};

// containerEdits.netDevices[] (1.1.0): a host network interface moved into the container.
struct NetDevice {
  std::string host_interface_name;  // "hostInterfaceName"
  std::string name;                 // inside the container
  bool operator==(const NetDevice&) const = default;
};

struct ContainerEdits {
  std::vector<std::string> env;  // "KEY=value"
  std::vector<DeviceNode> device_nodes;
  std::vector<NetDevice> net_devices;
  std::vector<Hook> hooks;
  std::vector<Mount> mounts;
  std::optional<IntelRdt> intel_rdt;
  std::vector<uint32_t> additional_gids;  // "additionalGids" (0.7.0); 0 is ignored
  bool empty() const;
  bool operator==(const ContainerEdits&) const = default;
};

struct Device {
  std::string name;
  std::map<std::string, std::string> annotations;  // (0.6.0) for consumers of the spec, not the container
  ContainerEdits edits;                            // "containerEdits"
  bool operator==(const Device&) const = default;
};

struct Spec {
  std::string version;  // "cdiVersion"
  std::string kind;     // "vendor.com/class"
  std::map<std::string, std::string> annotations;
  std::vector<Device> devices;  // at least one
  ContainerEdits edits;         // "containerEdits": applied once when any of `devices` is requested
  bool operator==(const Spec&) const = default;
};

// The spec versions cricket reads, oldest first.
inline constexpr std::string_view kSpecVersions[] = {"0.3.0", "0.4.0", "0.5.0", "0.6.0",
                                                     "0.7.0", "0.8.0", "1.0.0", "1.1.0"};

// Parses a spec file's content. `path` names the file in errors ("/etc/cdi/vendor.yaml: devices[0].name:
// ...") and its extension picks the syntax: ".yaml" YAML, anything else JSON. Runs ValidateSpec.
absl::StatusOr<Spec> ParseSpec(std::string_view text, std::string_view path);

// The spec's rules across fields: a known cdiVersion at least MinimumVersion(spec); kind
// "vendor/class" with valid parts; at least one device, names valid and unique; device edits not empty;
// env entries "KEY=value"; device node paths set, types and permissions known; mount paths set; hook
// names known, paths absolute, timeouts positive; net devices named and unique. InvalidArgument
// naming the property.
absl::Status ValidateSpec(const Spec& spec);

// The lowest cdiVersion that has every feature `spec` uses.
std::string_view MinimumVersion(const Spec& spec);

// A fully qualified CDI device name: "vendor.com/class=name".
struct QualifiedName {
  std::string vendor;
  std::string device_class;
  std::string name;
  std::string Kind() const { return vendor + "/" + device_class; }
  std::string ToString() const { return Kind() + "=" + name; }
  bool operator==(const QualifiedName&) const = default;
};

// InvalidArgument naming `device` and what is wrong with it.
absl::StatusOr<QualifiedName> ParseQualifiedName(std::string_view device);

// Vendor and class: a letter, then letters, digits, '_', '-' or '.', ending with a letter or digit.
absl::Status ValidateVendorOrClass(std::string_view what, std::string_view value);
// Device names: a letter or digit, then letters, digits, '_', '-', '.' or ':', ending with a letter or
// digit.
absl::Status ValidateDeviceName(std::string_view name);

}  // namespace cricket::cdi
