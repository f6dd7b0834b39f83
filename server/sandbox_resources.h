// UpdatePodSandboxResources (KEP-5419 pod-level resources): kubelet resizes the pod's cgroup itself and
// then tells the runtime the pod's new overhead and resources. cricket records them on the sandbox
// (kept across restarts, shown in the verbose PodSandboxStatus as podOverhead / podResources, and as
// the pod's container_spec_* CRI metrics). Best effort, as the CRI says: a record that cannot be written
// is logged, not an error that would fail kubelet's resize.
#pragma once

#include <nlohmann/json.hpp>

#include "server/records.h"

namespace cricket::server {

// Adds "podOverhead" / "podResources" (protobuf JSON objects) to a verbose status info object.
void AddPodResourcesInfo(const SandboxRecord& s, nlohmann::json& info);

}  // namespace cricket::server
