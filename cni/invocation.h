// One CNI plugin invocation as data (environment, stdin) and its execution.
// Protocol: https://github.com/containernetworking/cni/blob/main/SPEC.md sections 3 and 4.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cni/network_config.h"

namespace cricket::cni {

// Spec section 2 rules for identifiers: a container id (and a network name) starts with an
// alphanumeric character followed by alphanumerics, '_', '.' or '-'; an interface name has 1-15
// characters, is not "." or "..", and has no '/', ':' or whitespace. InvalidArgument naming the value.
absl::Status ValidateContainerId(std::string_view id);
absl::Status ValidateIfName(std::string_view ifname);

// A hostPort mapping (the portMappings capability). Only mappings with host_port > 0 are sent.
struct PortMapping {
  int host_port = 0;
  int container_port = 0;
  std::string protocol;  // TCP/UDP/SCTP in any case; sent lowercased, "tcp" when empty
  std::string host_ip;   // empty: all host addresses
};

// The bandwidth capability: rates in bits per second, bursts in bits; zero means unlimited.
struct BandwidthLimits {
  uint64_t ingress_rate = 0;
  uint64_t ingress_burst = 0;
  uint64_t egress_rate = 0;
  uint64_t egress_burst = 0;
};

// The runtime's side of one attachment, constant across the plugins of a list.
struct RuntimeArgs {
  std::string container_id;                                   // CNI_CONTAINERID
  std::string netns;                                          // CNI_NETNS (may be empty for DEL)
  std::string ifname;                                         // CNI_IFNAME
  std::vector<std::pair<std::string, std::string>> cni_args;  // CNI_ARGS, in order
  nlohmann::json capability_args = nlohmann::json::object();  // capability name -> value
};

// The capability arguments of a pod: "portMappings" (host_port > 0 only, protocol lowercased),
// "bandwidth" when any limit is set, "cgroupPath" when not empty, "ipRanges" when subnets are given:
// one range set per subnet, [[{"subnet": A}], [{"subnet": B}]] (CNI CONVENTIONS.md; host-local then
// allocates from them instead of its configured ranges).
nlohmann::json MakeCapabilityArgs(const std::vector<PortMapping>& port_mappings,
                                  const BandwidthLimits& bandwidth, const std::string& cgroup_path,
                                  const std::vector<std::string>& ip_ranges = {});

// "K=V;K=V". InvalidArgument when a key or value holds ';' or '=' (or a key is empty).
absl::StatusOr<std::string> FormatCniArgs(const std::vector<std::pair<std::string, std::string>>& args);

// The configuration plugin `index` of `list` receives: its own object with the list's "name" and
// "cniVersion" injected, "runtimeConfig" holding the capability arguments it declares in
// "capabilities" (that key itself removed), and "prevResult" when given.
nlohmann::json BuildPluginConfig(const NetworkConfigList& list, size_t index,
                                 const nlohmann::json& capability_args, const nlohmann::json* prev_result);

// The GC configuration for plugin `index` (spec 1.1): name, cniVersion, and
// "cni.dev/valid-attachments": [{"containerID", "ifname"}].
nlohmann::json BuildGcConfig(const NetworkConfigList& list, size_t index,
                             const std::vector<std::pair<std::string, std::string>>& valid_attachments);

// The environment of a plugin: CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH
// (the ones `command` uses) and PATH (plugins run iptables and friends).
absl::StatusOr<std::vector<std::string>> BuildEnv(std::string_view command, const RuntimeArgs& args,
                                                  const std::vector<std::string>& plugin_dirs,
                                                  const std::string& path_env);

struct PluginCall {
  std::string type;     // plugin type, for messages
  std::string path;     // executable
  std::string command;  // ADD, DEL, CHECK, VERSION, GC
  std::vector<std::string> env;
  nlohmann::json config;  // written to stdin
};

// Runs one plugin. Returns what it printed on stdout as JSON (null when it printed nothing, as DEL,
// CHECK and GC may). A failure names the plugin and command and carries the exit status, the
// plugin's error object ({code, msg, details}) and the end of its stderr; DeadlineExceeded when it was
// killed at `timeout`.
absl::StatusOr<nlohmann::json> ExecPlugin(const PluginCall& call, absl::Duration timeout);

}  // namespace cricket::cni
