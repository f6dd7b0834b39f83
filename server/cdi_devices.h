// CDI devices of a CRI container: which devices it asks for (ContainerConfig.CDI_devices and the
// cdi.k8s.io/ annotations device plugins set) and their edits applied to its OCI spec (lib/cdi).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cdi/edits.h"
#include "lib/cdi/registry.h"
#include "lib/oci/spec.h"
#include "runtime/v1/api.pb.h"

namespace cricket::server {

// Annotation keys with this prefix carry comma-separated fully qualified CDI device names.
inline constexpr char kCdiAnnotationPrefix[] = "cdi.k8s.io/";

// The CDI_devices names, then those of the cdi.k8s.io/ annotations (in key order), without duplicates.
// InvalidArgument naming the annotation for a name that is not fully qualified.
absl::StatusOr<std::vector<std::string>> RequestedCdiDevices(const ::runtime::v1::ContainerConfig& config);

// Applies the resolved edits in order; an error names the device (or spec file) whose edit failed.
// Edits cricket's runtime cannot carry out (intelRdt, netDevices) are Unimplemented, naming the device.
absl::Status ApplyCdiDevices(const cdi::Resolution& resolution, const cdi::HostDeviceLookup& lookup,
                             oci::Spec& spec);

}  // namespace cricket::server
