#include "server/pod_files.h"

#include <arpa/inet.h>

#include "lib/common/strings.h"

namespace cricket::server {

namespace {
bool IsIpAddress(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
}  // namespace

absl::StatusOr<std::string> ResolvConf(const ::runtime::v1::DNSConfig& dns,
                                       const std::string& host_resolv_conf) {
  if (dns.servers().empty() && dns.searches().empty() && dns.options().empty()) return host_resolv_conf;
  std::string out;
  if (!dns.searches().empty()) {
    std::vector<std::string> searches(dns.searches().begin(), dns.searches().end());
    StrAppend(&out, "search ", Join(searches, " "), "\n");
  }
  for (const std::string& s : dns.servers()) {
    if (!IsIpAddress(s)) {
      return absl::InvalidArgumentError(StrCat("dns_config.servers: \"", s, "\" is not an IP address"));
    }
    StrAppend(&out, "nameserver ", s, "\n");
  }
  if (!dns.options().empty()) {
    std::vector<std::string> options(dns.options().begin(), dns.options().end());
    StrAppend(&out, "options ", Join(options, " "), "\n");
  }
  return out;
}

std::string HostsFile(const std::string& hostname, const std::vector<std::string>& pod_ips) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  for (const std::string& ip : pod_ips) StrAppend(&out, ip, "\t", hostname, "\n");
  return out;
}

absl::Status ValidateHostname(const std::string& hostname) {
  if (hostname.size() > 64) {
    return absl::InvalidArgumentError(StrCat("hostname \"", hostname, "\" is longer than 64 bytes"));
  }
  for (char c : hostname) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok)
      return absl::InvalidArgumentError(StrCat("hostname \"", hostname, "\" has an invalid character"));
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
