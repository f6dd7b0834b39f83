#include "server/cri_mounts.h"

#include <algorithm>

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

// Flags a bind mount carries per mount (the others of mount(8) belong to the filesystem).
constexpr std::string_view kBindOptions[] = {
    "ro",         "rw",       "nosuid",      "suid",     "nodev",      "dev",         "noexec",
    "exec",       "noatime",  "atime",       "relatime", "norelatime", "strictatime", "nostrictatime",
    "nodiratime", "diratime", "nosymfollow", "symfollow"};

std::vector<oci::IdMapping> OciMappings(const std::vector<sys::UidGidMapping>& in) {
  std::vector<oci::IdMapping> out;
  for (const sys::UidGidMapping& m : in) out.push_back({m.container_id, m.host_id, m.size});
  return out;
}

}  // namespace

bool IsBindMountOption(std::string_view option) {
  return std::find(std::begin(kBindOptions), std::end(kBindOptions), option) != std::end(kBindOptions);
}

absl::Status ApplyMountFeatures(const v1::Mount& m, const std::optional<UserNamespaceMaps>& pod_userns,
                                std::string_view where, oci::Mount& out) {
  if (m.recursive_read_only()) {
    if (!m.readonly()) {
      return absl::InvalidArgumentError(StrCat(where, ": recursive_read_only needs readonly set too"));
    }
    if (m.propagation() != v1::PROPAGATION_PRIVATE) {
      return absl::InvalidArgumentError(StrCat(where, ": recursive_read_only needs propagation PRIVATE, not ",
                                               v1::MountPropagation_Name(m.propagation())));
    }
    out.options.push_back("rro");
  }
  ASSIGN_OR_RETURN(std::optional<UserNamespaceMaps> maps, MountIdMappings(m, where));
  if (maps) {
    out.options.push_back("idmap");
    // The pod's own namespace serves a mount mapped like the pod (kubelet's volumes); any other mapping
    // gets a namespace of its own.
    if (!pod_userns || !(*maps == *pod_userns)) {
      out.uid_mappings = OciMappings(maps->uid_map);
      out.gid_mappings = OciMappings(maps->gid_map);
    }
  }
  for (const std::string& o : m.mount_options()) {
    if (!IsBindMountOption(o)) {
      return absl::InvalidArgumentError(
          StrCat(where, ": mount option \"", o,
                 "\" cannot be applied to a bind mount (accepted: ", Join(kBindOptions, ", "), ")"));
    }
    if (o == "rw" && m.readonly()) {
      return absl::InvalidArgumentError(StrCat(where, ": mount option \"rw\" contradicts readonly"));
    }
    out.options.push_back(o);
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
