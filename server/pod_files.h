// The files cricket writes for a pod and bind-mounts into each of its containers: /etc/hostname,
// /etc/resolv.conf (from the CRI DNSConfig) and /etc/hosts. Pure text builders plus one writer.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/v1/api.pb.h"

namespace cricket::server {

// resolv.conf from DNSConfig: "search", "nameserver" and "options" lines. With no servers, searches
// or options at all, the host's resolv.conf (`host_resolv_conf` text) is used as is, as kubelet
// expects for dnsPolicy Default. InvalidArgument for a server that is not an IP address.
absl::StatusOr<std::string> ResolvConf(const ::runtime::v1::DNSConfig& dns,
                                       const std::string& host_resolv_conf);

// /etc/hosts: the loopback entries, then "<ip>\t<hostname>" for each pod IP (none yet: the hostname
// maps to nothing until the pod has an address; kubelet usually mounts its own /etc/hosts anyway).
std::string HostsFile(const std::string& hostname, const std::vector<std::string>& pod_ips);

// A valid hostname of at most 64 bytes: kubelet sends the pod's; InvalidArgument otherwise.
absl::Status ValidateHostname(const std::string& hostname);

}  // namespace cricket::server
