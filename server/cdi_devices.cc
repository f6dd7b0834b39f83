#include "server/cdi_devices.h"

#include <algorithm>

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::server {

absl::StatusOr<std::vector<std::string>> RequestedCdiDevices(const ::runtime::v1::ContainerConfig& config) {
  std::vector<std::string> out;
  auto add = [&out](std::string name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  };
  for (const ::runtime::v1::CDIDevice& d : config.cdi_devices()) {
    ASSIGN_OR_RETURN(cdi::QualifiedName q, cdi::ParseQualifiedName(d.name()));
    add(q.ToString());
  }
  // Protobuf maps have no order; sort the keys so the edits apply the same way every time.
  std::vector<std::string> keys;
  for (const auto& [k, v] : config.annotations()) {
    if (k.starts_with(kCdiAnnotationPrefix)) keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  for (const std::string& k : keys) {
    for (std::string_view name : Split(config.annotations().at(k), ',')) {
      auto q = cdi::ParseQualifiedName(TrimSpace(name));
      if (!q.ok()) return Annotate(q.status(), StrCat("annotation ", k));
      add(q->ToString());
    }
  }
  return out;
}

absl::Status ApplyCdiDevices(const cdi::Resolution& resolution, const cdi::HostDeviceLookup& lookup,
                             oci::Spec& spec) {
  for (const cdi::Resolution::Edit& e : resolution.edits) {
    if (e.edits.intel_rdt) {
      return absl::UnimplementedError(StrCat(
          "CDI ", e.origin, ": intelRdt edits are not supported (cricket's runtime has no resctrl support)"));
    }
    if (!e.edits.net_devices.empty()) {
      return absl::UnimplementedError(
          StrCat("CDI ", e.origin, ": netDevices edits are not supported by cricket's runtime"));
    }
    RETURN_IF_ERROR(Annotate(cdi::ApplyEdits(e.edits, lookup, spec), StrCat("CDI ", e.origin)));
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
