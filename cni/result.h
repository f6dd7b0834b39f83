// The result of a CNI ADD, in the shape of spec 1.0/1.1 ("Success" result:
// https://github.com/containernetworking/cni/blob/main/SPEC.md#add-success), parsed from any result
// version a plugin may print: 1.x, 0.4.0 and 0.3.x (the same lists, with ips[].version) and 0.1/0.2
// ("ip4"/"ip6" objects).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::cni {

struct Interface {
  std::string name;
  std::string mac;
  int mtu = 0;
  std::string sandbox;  // the netns path for interfaces inside the pod; empty on the host
};

struct IpConfig {
  std::string address;  // CIDR, "10.88.0.5/16"
  std::string gateway;  // may be empty
  int interface = -1;   // index into Result::interfaces, -1 when absent
  // The address without its prefix length.
  std::string Ip() const { return address.substr(0, address.find('/')); }
  bool IsV6() const { return address.find(':') != std::string::npos; }
};

struct Route {
  std::string dst;  // CIDR
  std::string gw;
  int mtu = 0;
  int advmss = 0;
  int priority = 0;
  int table = 0;
  std::string scope;  // spec 1.1 scope as a number or name, kept as written
};

struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

struct Result {
  std::string cni_version;
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  nlohmann::json raw;  // as the last plugin printed it (passed on as prevResult, cached)
};

// Parses a result object. InvalidArgument naming the field that is malformed.
absl::StatusOr<Result> ParseResult(const nlohmann::json& doc);

// The pod's IP addresses (without prefix): those on `ifname` inside the sandbox (or on no interface in
// particular), IPv4 before IPv6, each once; the first is the pod's primary IP.
std::vector<std::string> PodIps(const Result& result, const std::string& ifname);

}  // namespace cricket::cni
