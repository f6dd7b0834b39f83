// A pod's pinned namespaces set up without any process in them: the hostname of its UTS namespace and
// the sysctls of its network and IPC namespaces. With an infra container these are the infra's spec;
// a pod that has none (no pod-level pid namespace, see server's drop_infra_ctr) gets them from here,
// before any of its containers joins the namespaces.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cricket::runtime {

struct PodNamespaceSettings {
  std::string netns_path;  // empty: the host's network namespace, which is never changed
  std::string ipcns_path;  // empty: the host's IPC namespace, likewise
  std::string utsns_path;  // empty: the host's UTS namespace, likewise
  std::string hostname;    // set in utsns_path when both are non-empty
  // name → value; names with dots ("net.ipv4.ip_forward") or slashes ("net/ipv4/ip_forward").
  std::map<std::string, std::string> sysctls;
};

// Which namespace a sysctl lives in (kernel docs; Kubernetes "safe and unsafe sysctls"): "net" (net.*),
// "ipc" (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*), or an InvalidArgument error naming it when
// it is neither. The one rule for pods (server) and for the OCI runtime's sysctl check.
absl::StatusOr<std::string> SysctlNamespace(const std::string& name);

// Sets the hostname and writes each sysctl from a thread that joined the namespace it belongs to (the
// daemon itself never moves). Errors name the sysctl or the hostname; a sysctl whose namespace is the
// host's is refused, never written.
absl::Status ApplyPodNamespaceSettings(const PodNamespaceSettings& s);

}  // namespace cricket::runtime
