#include "cni/result.h"

#include <gtest/gtest.h>

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

// What Debian's bridge + host-local print for cniVersion 1.0.0 (shape of plugins v1.1.1).
constexpr char kBridge10[] = R"({
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "cni0", "mac": "aa:bb:cc:00:00:01"},
    {"name": "veth1234", "mac": "aa:bb:cc:00:00:02"},
    {"name": "eth0", "mac": "aa:bb:cc:00:00:03", "sandbox": "/run/cricket/ns/netns/abc"}
  ],
  "ips": [
    {"interface": 2, "address": "10.88.0.7/16", "gateway": "10.88.0.1"},
    {"interface": 2, "address": "fd00:88::7/64", "gateway": "fd00:88::1"}
  ],
  "routes": [{"dst": "0.0.0.0/0", "gw": "10.88.0.1"}, {"dst": "::/0"}],
  "dns": {"nameservers": ["10.88.0.1"], "domain": "cluster.local", "search": ["a.b"], "options": ["ndots:5"]}
})";

TEST(ParseResult, Version10FromBridge) {
  auto r = ParseResult(Json::parse(kBridge10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cni_version, "1.0.0");
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[2].sandbox, "/run/cricket/ns/netns/abc");
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].address, "10.88.0.7/16");
  EXPECT_EQ(r->ips[0].Ip(), "10.88.0.7");
  EXPECT_EQ(r->ips[0].gateway, "10.88.0.1");
  EXPECT_EQ(r->ips[0].interface, 2);
  EXPECT_TRUE(r->ips[1].IsV6());
  ASSERT_EQ(r->routes.size(), 2u);
  EXPECT_EQ(r->routes[0].gw, "10.88.0.1");
  EXPECT_EQ(r->dns.nameservers, std::vector<std::string>{"10.88.0.1"});
  EXPECT_EQ(r->dns.domain, "cluster.local");
  EXPECT_EQ(r->dns.options, std::vector<std::string>{"ndots:5"});
  EXPECT_EQ(PodIps(*r, "eth0"), (std::vector<std::string>{"10.88.0.7", "fd00:88::7"}));
  EXPECT_TRUE(PodIps(*r, "net1").empty());
}

TEST(ParseResult, Version031And040CarryIpVersion) {
  auto r = ParseResult(Json::parse(R"({"cniVersion":"0.3.1",
    "interfaces":[{"name":"eth0","sandbox":"/x"}],
    "ips":[{"version":"6","address":"fd00::2/64","interface":0},{"version":"4","address":"10.0.0.2/24","gateway":"10.0.0.1","interface":0}],
    "dns":{}})"));
  ASSERT_TRUE(r.ok()) << r.status();
  // IPv4 comes first whatever the plugin's order.
  EXPECT_EQ(PodIps(*r, "eth0"), (std::vector<std::string>{"10.0.0.2", "fd00::2"}));
  auto r4 =
      ParseResult(Json::parse(R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.3/24"}]})"));
  ASSERT_TRUE(r4.ok()) << r4.status();
  // No interface index: the address counts as the pod's.
  EXPECT_EQ(PodIps(*r4, "eth0"), std::vector<std::string>{"10.0.0.3"});
}

TEST(ParseResult, Legacy020) {
  auto r = ParseResult(Json::parse(R"({"cniVersion":"0.2.0",
    "ip4":{"ip":"10.1.0.5/16","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0"}]},
    "ip6":{"ip":"fd01::5/64"},
    "dns":{"nameservers":["1.1.1.1"]}})"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].gateway, "10.1.0.1");
  EXPECT_EQ(r->routes.size(), 1u);
  EXPECT_EQ(PodIps(*r, "eth0"), (std::vector<std::string>{"10.1.0.5", "fd01::5"}));
}

TEST(ParseResult, HostSideAddressesAreNotPodIps) {
  auto r = ParseResult(Json::parse(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/ns"}],
    "ips":[{"address":"10.9.0.1/16","interface":0},{"address":"10.9.0.9/16","interface":1},{"address":"10.9.0.9/16","interface":1}]})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(PodIps(*r, "eth0"), std::vector<std::string>{"10.9.0.9"});
}

TEST(ParseResult, MalformedFieldsAreNamed) {
  auto expect_bad = [](const char* text, const char* field) {
    auto r = ParseResult(Json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status();
  };
  expect_bad(R"({"ips":[{"address":"10.0.0.1"}]})", "ips[0].address");
  expect_bad(R"({"ips":[{"address":"10.0.0.1/8","interface":3}]})", "ips[0].interface");
  expect_bad(R"({"ips":{}})", "ips");
  expect_bad(R"({"interfaces":[{"name":5}]})", "interfaces[0].name");
  expect_bad(R"({"routes":[{"gw":"1.2.3.4"}]})", "routes[0].dst");
  expect_bad(R"({"dns":{"nameservers":"1.1.1.1"}})", "dns.nameservers");
  expect_bad(R"({"ip4":{"gateway":"1.2.3.4"}})", "ip4.ip");
  expect_bad(R"([])", "document");
}

}  // namespace
}  // namespace cricket::cni
