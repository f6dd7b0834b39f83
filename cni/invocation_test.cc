#include "cni/invocation.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

NetworkConfigList List(const char* text) {
  auto l = ParseNetworkConfig("test.conflist", text);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() ? *l : NetworkConfigList();
}

constexpr char kList[] = R"({"cniVersion":"1.0.0","name":"podnet","plugins":[
  {"type":"bridge","bridge":"cni0","ipam":{"type":"host-local"}},
  {"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false},"snat":true},
  {"type":"bandwidth","capabilities":{"bandwidth":true},"runtimeConfig":{"stale":1}}]})";

TEST(BuildPluginConfig, InjectsNameVersionRuntimeConfigAndPrevResult) {
  NetworkConfigList list = List(kList);
  std::vector<PortMapping> ports = {
      {8080, 80, "TCP", ""}, {0, 53, "UDP", ""}, {5353, 53, "Udp", "127.0.0.1"}};
  Json caps = MakeCapabilityArgs(ports, {}, "");
  Json first = BuildPluginConfig(list, 0, caps, nullptr);
  EXPECT_EQ(first["name"], "podnet");
  EXPECT_EQ(first["cniVersion"], "1.0.0");
  EXPECT_EQ(first["bridge"], "cni0");
  EXPECT_FALSE(first.contains("prevResult"));
  EXPECT_FALSE(first.contains("runtimeConfig"));  // bridge declares no capability

  Json prev = {{"cniVersion", "1.0.0"}, {"ips", Json::array({{{"address", "10.0.0.2/24"}}})}};
  Json second = BuildPluginConfig(list, 1, caps, &prev);
  EXPECT_EQ(second["prevResult"], prev);
  EXPECT_FALSE(second.contains("capabilities"));
  EXPECT_EQ(second["snat"], true);
  // Only host_port > 0, protocol lowercased, the capability portmap declared true and nothing else.
  Json want = Json::parse(R"({"portMappings":[
      {"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":""},
      {"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"127.0.0.1"}]})");
  EXPECT_EQ(second["runtimeConfig"], want);

  // bandwidth declared but no bandwidth arguments: its own runtimeConfig stays as written.
  Json third = BuildPluginConfig(list, 2, caps, &prev);
  EXPECT_EQ(third["runtimeConfig"], Json::parse(R"({"stale":1})"));
  BandwidthLimits bw;
  bw.ingress_rate = 1000000;
  bw.egress_burst = 2000;
  Json with_bw = BuildPluginConfig(list, 2, MakeCapabilityArgs({}, bw, "/kubepods/pod1"), &prev);
  EXPECT_EQ(with_bw["runtimeConfig"],
            Json::parse(R"({"bandwidth":{"ingressRate":1000000,"egressBurst":2000}})"));
}

TEST(MakeCapabilityArgs, EmptyWhenNothingToSay) {
  EXPECT_EQ(MakeCapabilityArgs({{0, 80, "tcp", ""}}, {}, ""), Json::object());
  EXPECT_EQ(MakeCapabilityArgs({{81, 80, "", ""}}, {}, "/c")["portMappings"][0]["protocol"], "tcp");
  EXPECT_EQ(MakeCapabilityArgs({}, {}, "/c")["cgroupPath"], "/c");
  EXPECT_FALSE(MakeCapabilityArgs({}, {}, "", {}).contains("ipRanges"));
}

TEST(MakeCapabilityArgs, IpRangesOneRangeSetPerSubnet) {
  Json args = MakeCapabilityArgs({}, {}, "", {"10.99.0.0/16", "fd00:99::/64"});
  EXPECT_EQ(args["ipRanges"], Json::parse(R"([[{"subnet":"10.99.0.0/16"}],[{"subnet":"fd00:99::/64"}]])"));
  // Only a plugin that declares the capability receives it.
  NetworkConfigList list = List(R"({"cniVersion":"1.0.0","name":"n","plugins":[
    {"type":"bridge","capabilities":{"ipRanges":true},"ipam":{"type":"host-local"}},
    {"type":"portmap","capabilities":{"portMappings":true}}]})");
  EXPECT_EQ(BuildPluginConfig(list, 0, args, nullptr)["runtimeConfig"]["ipRanges"], args["ipRanges"]);
  EXPECT_FALSE(BuildPluginConfig(list, 1, args, nullptr).contains("runtimeConfig"));
}

TEST(BuildGcConfig, ListsValidAttachments) {
  NetworkConfigList list = List(kList);
  Json gc = BuildGcConfig(list, 1, {{"abc", "eth0"}, {"def", "net1"}});
  EXPECT_EQ(gc["cni.dev/valid-attachments"],
            Json::parse(R"([{"containerID":"abc","ifname":"eth0"},{"containerID":"def","ifname":"net1"}])"));
  EXPECT_FALSE(gc.contains("capabilities"));
  EXPECT_FALSE(gc.contains("prevResult"));
  EXPECT_EQ(gc["name"], "podnet");
}

TEST(BuildEnv, CarriesTheSpecVariables) {
  RuntimeArgs args;
  args.container_id = "abc123";
  args.netns = "/run/ns/x";
  args.ifname = "eth0";
  args.cni_args = {{"IgnoreUnknown", "1"},
                   {"K8S_POD_NAMESPACE", "default"},
                   {"K8S_POD_NAME", "web"},
                   {"K8S_POD_INFRA_CONTAINER_ID", "abc123"},
                   {"K8S_POD_UID", "u-1"}};
  auto env = BuildEnv("ADD", args, {"/opt/cni/bin", "/usr/lib/cni"}, "/usr/bin:/bin");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*env, (std::vector<std::string>{
                      "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc123", "CNI_NETNS=/run/ns/x", "CNI_IFNAME=eth0",
                      "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                      "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1",
                      "CNI_PATH=/opt/cni/bin:/usr/lib/cni", "PATH=/usr/bin:/bin"}));
  auto version = BuildEnv("VERSION", RuntimeArgs(), {"/a"}, "/bin");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, (std::vector<std::string>{"CNI_COMMAND=VERSION", "CNI_PATH=/a", "PATH=/bin"}));
  args.cni_args.push_back({"K8S_POD_NAME", "a;b"});
  EXPECT_TRUE(absl::IsInvalidArgument(BuildEnv("DEL", args, {}, "").status()));
}

TEST(Identifiers, FollowTheSpec) {
  EXPECT_TRUE(ValidateContainerId("0123abc_.-x").ok());
  EXPECT_FALSE(ValidateContainerId("").ok());
  EXPECT_FALSE(ValidateContainerId("-abc").ok());
  EXPECT_FALSE(ValidateContainerId("a/b").ok());
  EXPECT_TRUE(ValidateIfName("eth0").ok());
  EXPECT_FALSE(ValidateIfName("").ok());
  EXPECT_FALSE(ValidateIfName("0123456789abcdef").ok());
  EXPECT_FALSE(ValidateIfName("a:b").ok());
  EXPECT_FALSE(ValidateIfName("a b").ok());
  EXPECT_FALSE(ValidateIfName("..").ok());
}

class ExecPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-cniexec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { EXPECT_TRUE(RemoveAll(dir_).ok()); }
  PluginCall Call(const std::string& command, Json config) {
    PluginCall c;
    c.type = "fake";
    c.path = CRICKET_FAKE_CNI_PLUGIN;
    c.command = command;
    c.env = {StrCat("CNI_COMMAND=", command), "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0", "CNI_NETNS=/x"};
    c.config = std::move(config);
    return c;
  }
  std::string dir_;
};

TEST_F(ExecPluginTest, ResultIsParsed) {
  auto out = ExecPlugin(Call("ADD", {{"cniVersion", "1.0.0"}, {"ip", "10.0.0.9/24"}}), absl::Seconds(10));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["ips"][0]["address"], "10.0.0.9/24");
  auto del = ExecPlugin(Call("DEL", {{"cniVersion", "1.0.0"}}), absl::Seconds(10));
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_TRUE(del->is_null());
}

TEST_F(ExecPluginTest, ErrorObjectAndStderrAreInTheError) {
  auto out = ExecPlugin(Call("ADD", {{"cniVersion", "1.0.0"}, {"behavior", "fail"}}), absl::Seconds(10));
  ASSERT_FALSE(out.ok());
  std::string msg(out.status().message());
  EXPECT_NE(msg.find("CNI plugin fake ADD failed (exit status 1)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[code 11] fake failure: fake details"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stderr: fake stderr line"), std::string::npos) << msg;
}

TEST_F(ExecPluginTest, GarbageOutputIsAnErrorForAdd) {
  auto out = ExecPlugin(Call("ADD", {{"behavior", "garbage"}}), absl::Seconds(10));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("CNI plugin fake ADD output"), std::string::npos) << out.status();
}

TEST_F(ExecPluginTest, HangingPluginIsKilledAtTheTimeout) {
  int64_t start = time(nullptr);
  auto out = ExecPlugin(Call("ADD", {{"behavior", "hang"}}), absl::Milliseconds(300));
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(out.status())) << out.status();
  EXPECT_NE(out.status().message().find("killed after the timeout of 300ms"), std::string::npos)
      << out.status();
  EXPECT_LE(time(nullptr) - start, 3);
}

TEST_F(ExecPluginTest, MissingExecutable) {
  PluginCall c = Call("ADD", Json::object());
  c.path = dir_ + "/nope";
  auto out = ExecPlugin(c, absl::Seconds(1));
  EXPECT_TRUE(absl::IsNotFound(out.status())) << out.status();
}

}  // namespace
}  // namespace cricket::cni
