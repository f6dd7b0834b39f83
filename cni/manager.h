// cricket's CNI client: attaches pod network namespaces to the node's network by running the CNI
// plugins of the default network configuration (spec: https://github.com/containernetworking/cni/blob/
// main/SPEC.md, versions 0.3.0 to 1.1.0).
//
// How the sandbox code uses it (all methods are thread-safe; operations on one sandbox are serialised,
// GC excludes every other operation):
//
//   cni::Manager cni({.network_dir = cfg.network_dir, .plugin_dirs = cfg.plugin_dirs,
//                     .default_network = cfg.cni_default_network,
//                     .cache_dir = "/var/lib/cricket/cni/results"});
//   // Status RPC: NetworkReady is cni.Status().ok(); its message is the reason.
//   // RunPodSandbox (not for host-network pods), after sys::PinNamespaces(..., {kNet, ...}):
//   ASSIGN_OR_RETURN(cni::Attachment net, cni.Setup({.sandbox_id = id, .pod_name = ..., .pod_namespace = ...,
//                                                     .pod_uid = ..., .netns_path = pinned_netns,
//                                                     .port_mappings = ...}));
//   //   net.ips[0] is the pod IP. On error nothing is left attached (Setup has run DEL itself).
//   // StopPodSandbox (idempotent, before the netns is unpinned): cni.Teardown({.sandbox_id = id, ...});
//   // PodSandboxStatus after a daemon restart, without a second ADD: cni.CachedAttachment(id).
//   // Daemon start, once sandboxes are loaded: cni.GarbageCollect(ids of sandboxes that exist).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cni/invocation.h"
#include "cni/network_config.h"
#include "cni/result.h"
#include "cni/result_cache.h"

namespace cricket::cni {

struct ManagerOptions {
  std::string network_dir = "/etc/cni/net.d";
  std::vector<std::string> plugin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  std::string default_network;  // cni_default_network: empty means the first file in lexical order
  std::string cache_dir = "/var/lib/cricket/cni/results";
  absl::Duration plugin_timeout = absl::Seconds(60);  // per plugin execution; then SIGKILL
  std::string path_env;                               // PATH for plugins; empty: the daemon's own PATH
  bool bring_up_loopback = true;                      // Setup sets lo up in the pod netns itself
};

// One pod's attachment request.
struct PodNetwork {
  std::string sandbox_id;  // CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::string netns_path;  // the pinned network namespace (required by Setup; optional otherwise)
  std::string ifname = "eth0";
  std::vector<PortMapping> port_mappings;  // portMappings capability (hostPort > 0 only)
  BandwidthLimits bandwidth;               // bandwidth capability
  std::string cgroup_parent;               // cgroupPath capability, when not empty
  std::vector<std::string> ip_ranges;      // ipRanges capability: the node's pod CIDRs, one range set each
};

struct Attachment {
  std::string network_name;
  Result result;
  std::vector<std::string> ips;  // PodIps(result, ifname): primary first
};

class Manager {
 public:
  explicit Manager(ManagerOptions opts);
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // OK when the default network configuration is usable (parses, and every plugin it names exists);
  // otherwise FailedPrecondition saying why. Rereads network_dir whenever it changed (one readdir and a
  // stat per file per call).
  absl::Status Status();
  // The configuration Setup would use now (reloaded as for Status). The plugin check is not made.
  absl::StatusOr<std::shared_ptr<const NetworkConfigList>> CurrentNetwork();

  // Brings lo up (unless disabled), then runs ADD for each plugin of the default network in order,
  // chaining prevResult, with the attachment recorded in the cache before the first plugin runs. If
  // any plugin fails, DEL runs for the whole list (spec: "a delete must still be executed even if the
  // add fails") and the ADD error is returned. AlreadyExists when the sandbox is attached already.
  absl::StatusOr<Attachment> Setup(const PodNetwork& pod);

  // Runs DEL in reverse order for every cached attachment of the sandbox, with the configuration,
  // arguments and result recorded at ADD (so a config change or restart does not matter), then drops
  // the cache entries. Without a cache entry DEL still runs with the current configuration. Idempotent;
  // a missing netns is passed as an empty CNI_NETNS. Only sandbox_id and ifname are needed when
  // cached.
  absl::Status Teardown(const PodNetwork& pod);

  // CHECK in order with the cached result. OK without running anything when the configuration says
  // disableCheck or its version is below 0.4.0. NotFound when the sandbox has no completed attachment.
  absl::Status Check(const PodNetwork& pod);

  // The completed attachment recorded for a sandbox. NotFound when there is none.
  absl::StatusOr<Attachment> CachedAttachment(const std::string& sandbox_id,
                                              const std::string& ifname = "eth0");

  // Removes attachments of sandboxes that no longer exist: DEL for every cache entry whose sandbox is
  // not in `live_sandbox_ids` (also entries of interrupted ADDs), then, for a configuration of version
  // 1.1.0 or later without disableGC, the GC command with the live attachments as
  // cni.dev/valid-attachments. Errors are collected; every entry is tried.
  absl::Status GarbageCollect(const absl::flat_hash_set<std::string>& live_sandbox_ids);

  // The spec versions plugin `type` supports (VERSION command).
  absl::StatusOr<std::vector<std::string>> PluginVersions(const std::string& type);

 private:
  struct LockEntry {
    absl::Mutex mu;
    int users = 0;
  };
  class SandboxLock;

  absl::StatusOr<std::shared_ptr<const NetworkConfigList>> Reload();
  RuntimeArgs ArgsFor(const PodNetwork& pod, const std::string& netns) const;
  absl::StatusOr<nlohmann::json> Invoke(const NetworkConfigList& list, size_t index,
                                        const std::string& command, const RuntimeArgs& args,
                                        const nlohmann::json* prev_result);
  absl::Status DelList(const NetworkConfigList& list, const RuntimeArgs& args, const nlohmann::json& result);
  absl::Status DelEntry(const CacheEntry& entry);
  absl::StatusOr<std::vector<nlohmann::json>> AddList(const NetworkConfigList& list, const RuntimeArgs& args);

  const ManagerOptions opts_;
  const ResultCache cache_;
  std::string path_env_;

  absl::Mutex config_mu_;
  std::string fingerprint_ ABSL_GUARDED_BY(config_mu_);
  absl::StatusOr<std::shared_ptr<const NetworkConfigList>> current_ ABSL_GUARDED_BY(config_mu_);

  // Readers: Setup/Teardown/Check; writer: GarbageCollect.
  absl::Mutex gc_mu_;
  absl::Mutex locks_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<LockEntry>> locks_ ABSL_GUARDED_BY(locks_mu_);
};

}  // namespace cricket::cni
