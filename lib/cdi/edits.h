// Applying CDI containerEdits to an OCI runtime spec, as data: the one place that turns a resolved CDI
// device into config.json changes. Reading the host's device nodes is a function the caller passes, so
// the rules are unit-tested without devices.
//
// What each edit does (SPEC.md "OCI Edits"):
//   env            set in process.env (a KEY already there is replaced in place, else appended)
//   deviceNodes    linux.devices (one at the same path is replaced) and, for b/c nodes, an allow rule in
//                  linux.resources.devices; a type or major number left out is read from the host node
//                  (hostPath, else path), whose type must then match; fileMode defaults to the host
//                  node's; uid/gid default to the process's user when it is not root
//   mounts         spec.mounts (one at the same destination is replaced), then ordered parents first
//   hooks          appended to hooks.<hookName>
//   intelRdt       linux.intelRdt (replaced)
//   netDevices     linux.netDevices[hostInterfaceName]
//   additionalGids process.user.additionalGids (0 and duplicates skipped)
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/cdi/spec.h"
#include "lib/oci/spec.h"

namespace cricket::cdi {

// What a host device node is.
struct HostDevice {
  std::string type;  // "b", "c" or "p"
  int64_t major = 0;
  int64_t minor = 0;
  uint32_t mode = 0;  // permission bits
};

// Looks up a host device node by path; NotFound when there is none, InvalidArgument when the path is
// not a device node.
using HostDeviceLookup = std::function<absl::StatusOr<HostDevice>(const std::string& path)>;

// stat(2) of the path (symlinks followed, as /dev/disk/by-id/... names are).
absl::StatusOr<HostDevice> StatHostDevice(const std::string& path);

// Applies `edits` to `spec` (which must have process and linux). On error `spec` may be partly edited;
// callers discard it.
absl::Status ApplyEdits(const ContainerEdits& edits, const HostDeviceLookup& lookup, oci::Spec& spec);

}  // namespace cricket::cdi
