#include "server/pod_files.h"

#include <gtest/gtest.h>

namespace cricket::server {
namespace {

TEST(PodFiles, ResolvConfFromDnsConfig) {
  ::runtime::v1::DNSConfig dns;
  dns.add_servers("10.96.0.10");
  dns.add_searches("default.svc.cluster.local");
  dns.add_searches("svc.cluster.local");
  dns.add_options("ndots:5");
  EXPECT_EQ(*ResolvConf(dns, "ignored"),
            "search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
  dns.add_servers("not-an-ip");
  EXPECT_FALSE(ResolvConf(dns, "").ok());
  EXPECT_EQ(*ResolvConf(::runtime::v1::DNSConfig(), "nameserver 1.1.1.1\n"), "nameserver 1.1.1.1\n");
}

TEST(PodFiles, HostsAndHostname) {
  std::string hosts = HostsFile("web", {"10.88.0.5"});
  EXPECT_EQ(hosts.rfind("127.0.0.1\tlocalhost\n", 0), 0u);
  EXPECT_NE(hosts.find("10.88.0.5\tweb\n"), std::string::npos);
  EXPECT_TRUE(ValidateHostname("my-pod.example").ok());
  EXPECT_FALSE(ValidateHostname("bad_name").ok());
  EXPECT_FALSE(ValidateHostname(std::string(65, 'a')).ok());
}

}  // namespace
}  // namespace cricket::server
