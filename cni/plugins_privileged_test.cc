// cni::Manager with Debian's real plugins (containernetworking-plugins in /usr/lib/cni) in pinned
// network namespaces. Needs root; uses its own network name, bridge and subnet so that it does not
// collide with a running cricketd, and removes its bridge, IP reservations and mounts afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "cni/manager.h"
#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/sys/namespace_pin.h"
#include "lib/sys/subprocess.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

constexpr char kNet[] = "cricket-plugtest";
constexpr char kBridge[] = "crkptest0";
constexpr char kSubnetPrefix[] = "10.209.0.";
constexpr char kDebianPlugins[] = "/usr/lib/cni";
constexpr char kReservations[] = "/var/lib/cni/networks/cricket-plugtest";
constexpr int kHostPort = 41234;
constexpr int kPodPort = 8080;

std::string Sh(const std::string& script) {
  auto r = sys::RunProcess(
      sys::Command{"/bin/sh", {"sh", "-c", script}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, ""});
  return r.ok() ? r->stdout_data : "";
}

// Files in host-local's data directory that are IP reservations (not "lock"/"last_reserved_ip.0").
std::vector<std::string> Reservations() {
  std::vector<std::string> out;
  auto names = ListDir(kReservations);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (n.rfind(kSubnetPrefix, 0) == 0) out.push_back(n);
  }
  return out;
}

// Interfaces enslaved to the test bridge (veth host ends).
std::vector<std::string> BridgePorts() {
  auto names = ListDir(StrCat("/sys/class/net/", kBridge, "/brif"));
  return names.ok() ? *names : std::vector<std::string>();
}

// A listening TCP socket on 0.0.0.0:port inside the netns.
int ListenInNetns(const std::string& netns, int port) {
  int fd = -1;
  auto st = sys::RunInNamespace(netns, sys::NamespaceType::kNet, [&]() -> absl::Status {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 8) != 0) {
      return absl::InternalError("bind/listen in netns");
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  return fd;
}

// Connects from the host's network namespace to ip:port, sends "ping", and returns what the pod-side
// listener answered ("pong from pod"), or the error.
std::string RoundTrip(int listener, const std::string& ip, int port) {
  std::thread server([listener] {
    pollfd p = {listener, POLLIN, 0};
    if (poll(&p, 1, 6000) != 1) return;
    int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[16] = {};
    if (read(c, buf, sizeof(buf)) > 0) (void)!write(c, "pong from pod", 13);
    close(c);
  });
  std::string answer;
  auto conn = sys::DialTcpInNetns("/proc/self/ns/net", ip, port, absl::Seconds(5));
  if (conn.ok()) {
    (void)!write(conn->get(), "ping", 4);
    char buf[32] = {};
    ssize_t n = read(conn->get(), buf, sizeof(buf));
    answer = n > 0 ? std::string(buf, n) : "read failed";
  } else {
    answer = std::string(conn.status().message());
  }
  server.join();
  return answer;
}

// Deletes the nat rules and chains that mention `id` in their comment (what bridge's ipMasq made).
void PurgeNatRulesOf(const std::string& id) {
  Sh(StrCat("iptables-save -t nat | grep -- '^-A POSTROUTING .*", id,
            "' | sed 's/^-A/-D/' | while read -r rule; do eval iptables -t nat $rule; done"));
  Sh(StrCat("for c in $(iptables-save -t nat | grep -- '", id,
            "' | grep -o '^-A CNI-[0-9a-f]*' | cut -c4- | sort -u); do iptables -t nat -F $c; iptables -t "
            "nat -X $c; done"));
}

bool LoopbackUp(const std::string& netns) {
  bool up = false;
  (void)sys::RunInNamespace(netns, sys::NamespaceType::kNet, [&] {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq req{};
    strcpy(req.ifr_name, "lo");
    up = ioctl(s, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_UP);
    close(s);
    return absl::OkStatus();
  });
  return up;
}

class PluginsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (access(StrCat(kDebianPlugins, "/bridge").c_str(), X_OK) != 0) {
      GTEST_SKIP() << "containernetworking-plugins not installed";
    }
    if (access("/usr/sbin/iptables", X_OK) != 0) GTEST_SKIP() << "iptables not installed";
    char tmpl[] = "/tmp/cricket-cniplug-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(MkdirAll(root_ + "/net.d").ok());
    ASSERT_TRUE(MkdirAll(root_ + "/fakebin").ok());
    ASSERT_EQ(symlink(CRICKET_FAKE_CNI_PLUGIN, (root_ + "/fakebin/fake").c_str()), 0);
    WriteList(Json::array({Bridge(), Portmap(), {{"type", "loopback"}}}));
  }
  void TearDown() override {
    if (root_.empty()) return;
    for (const std::string& p : pins_) (void)sys::UnpinNamespace(p);
    umount2((root_ + "/ns").c_str(), MNT_DETACH);
    EXPECT_TRUE(RemoveAll(root_).ok());
    Sh(StrCat("ip link del ", kBridge, " 2>/dev/null"));
    (void)RemoveAll(kReservations);
  }

  static Json Bridge() {
    return {{"type", "bridge"},
            {"bridge", kBridge},
            {"isGateway", true},
            {"ipMasq", true},
            {"hairpinMode", true},
            {"ipam",
             {{"type", "host-local"},
              {"ranges", Json::array({Json::array({{{"subnet", StrCat(kSubnetPrefix, "0/24")}}})})},
              {"routes", Json::array({{{"dst", "0.0.0.0/0"}}})}}}};
  }
  static Json Portmap() { return {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}; }

  void WriteList(Json plugins) {
    Json doc = {{"cniVersion", "1.0.0"}, {"name", kNet}, {"plugins", plugins}};
    ASSERT_TRUE(WriteFileAtomic(root_ + "/net.d/10-test.conflist", doc.dump(2)).ok());
  }
  ManagerOptions Options() {
    ManagerOptions o;
    o.network_dir = root_ + "/net.d";
    o.plugin_dirs = {root_ + "/fakebin", kDebianPlugins};
    o.cache_dir = root_ + "/cache";
    o.plugin_timeout = absl::Seconds(30);
    return o;
  }
  std::string Pin(const std::string& id) {
    auto pins = sys::PinNamespaces(root_ + "/ns", id, {sys::NamespaceType::kNet});
    EXPECT_TRUE(pins.ok()) << pins.status();
    if (!pins.ok()) return "";
    pins_.push_back((*pins)[0].path);
    return (*pins)[0].path;
  }
  PodNetwork Pod(const std::string& id, const std::string& netns) {
    PodNetwork p;
    p.sandbox_id = id;
    p.pod_name = "pod-" + id;
    p.pod_namespace = "test";
    p.pod_uid = "uid-" + id;
    p.netns_path = netns;
    p.port_mappings = {{kHostPort, kPodPort, "TCP", ""}};
    return p;
  }
  std::string root_;
  std::vector<std::string> pins_;
};

TEST_F(PluginsTest, AddGivesAReachablePodAndDelRemovesEverything) {
  Manager m(Options());
  ASSERT_TRUE(m.Status().ok()) << m.Status();
  std::string id = "plugtest" + RandomHexId().substr(0, 12);
  std::string netns = Pin(id);
  ASSERT_FALSE(netns.empty());
  int64_t start = MonotonicNow();
  auto att = m.Setup(Pod(id, netns));
  int64_t add_ms = (MonotonicNow() - start) / 1000000;
  ASSERT_TRUE(att.ok()) << att.status();
  ASSERT_EQ(att->ips.size(), 1u);
  const std::string ip = att->ips[0];
  EXPECT_EQ(ip.rfind(kSubnetPrefix, 0), 0u) << ip;
  ASSERT_FALSE(att->result.ips.empty());
  EXPECT_EQ(att->result.ips[0].gateway, StrCat(kSubnetPrefix, "1"));
  EXPECT_TRUE(LoopbackUp(netns));

  // eth0 inside the pod carries the address; the host end of the veth hangs off the test bridge.
  auto inside = sys::RunProcess(
      sys::Command{"/usr/bin/nsenter",
                   {"nsenter", "--net=" + netns, "/usr/sbin/ip", "-o", "-4", "addr", "show", "dev", "eth0"},
                   {},
                   ""});
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_NE(inside->stdout_data.find(StrCat("inet ", ip, "/24")), std::string::npos) << inside->stdout_data;
  ASSERT_EQ(BridgePorts().size(), 1u);
  std::string veth = BridgePorts()[0];
  EXPECT_EQ(Reservations(), std::vector<std::string>{ip});
  EXPECT_NE(Sh("iptables-save -t nat").find(id), std::string::npos)
      << "masquerade and hostPort rules name the pod";

  // TCP from the host to the pod IP, and through the hostPort on 127.0.0.1 (what critest checks).
  int listener = ListenInNetns(netns, kPodPort);
  ASSERT_GE(listener, 0);
  EXPECT_EQ(RoundTrip(listener, ip, kPodPort), "pong from pod");
  EXPECT_EQ(RoundTrip(listener, "127.0.0.1", kHostPort), "pong from pod");
  close(listener);

  // What makes 127.0.0.1:hostPort work is portmap's doing (snat defaults to true): a DNAT from the
  // OUTPUT chain for local destinations, a mark on connections from 127.0.0.1 that POSTROUTING
  // masquerades (the pod could not answer 127.0.0.1), and route_localnet=1 on the bridge so the kernel
  // routes a packet with a 127/8 source out of a non-loopback interface.
  std::string nat = Sh("iptables-save -t nat");
  EXPECT_NE(nat.find("-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"), std::string::npos)
      << nat;
  EXPECT_NE(nat.find("-s 127.0.0.1/32 -p tcp -m tcp --dport 41234 -j CNI-HOSTPORT-SETMARK"),
            std::string::npos)
      << nat;
  EXPECT_NE(nat.find("-j CNI-HOSTPORT-MASQ"), std::string::npos) << nat;
  EXPECT_EQ(ReadFile(StrCat("/proc/sys/net/ipv4/conf/", kBridge, "/route_localnet")).value_or(""), "1\n");

  start = MonotonicNow();
  ASSERT_TRUE(m.Teardown(Pod(id, netns)).ok());
  int64_t del_ms = (MonotonicNow() - start) / 1000000;
  EXPECT_FALSE(PathExists("/sys/class/net/" + veth)) << veth;
  EXPECT_TRUE(BridgePorts().empty());
  EXPECT_TRUE(Reservations().empty());
  EXPECT_EQ(Sh("iptables-save -t nat").find(id), std::string::npos) << Sh("iptables-save -t nat");
  EXPECT_TRUE(absl::IsNotFound(m.CachedAttachment(id).status()));
  EXPECT_TRUE(m.Teardown(Pod(id, netns)).ok()) << "a second teardown is harmless";
  EXPECT_TRUE(sys::UnpinNamespace(netns).ok());
  RecordProperty("add_ms", static_cast<int>(add_ms));
  RecordProperty("del_ms", static_cast<int>(del_ms));
  printf("first ADD (bridge created): %lld ms, DEL: %lld ms\n", static_cast<long long>(add_ms),
         static_cast<long long>(del_ms));
}

TEST_F(PluginsTest, TwentyCyclesLeaveNothingBehind) {
  Manager m(Options());
  std::vector<int64_t> add_ms, del_ms, pin_ms;
  for (int i = 0; i < 20; ++i) {
    std::string id = StrCat("cycle", i, RandomHexId().substr(0, 8));
    int64_t t0 = MonotonicNow();
    std::string netns = Pin(id);
    ASSERT_FALSE(netns.empty());
    int64_t t1 = MonotonicNow();
    auto att = m.Setup(Pod(id, netns));
    ASSERT_TRUE(att.ok()) << att.status();
    int64_t t2 = MonotonicNow();
    ASSERT_TRUE(m.Teardown(Pod(id, netns)).ok());
    int64_t t3 = MonotonicNow();
    ASSERT_TRUE(sys::UnpinNamespace(netns).ok());
    int64_t t4 = MonotonicNow();
    pin_ms.push_back((t1 - t0 + t4 - t3) / 1000000);
    add_ms.push_back((t2 - t1) / 1000000);
    del_ms.push_back((t3 - t2) / 1000000);
  }
  EXPECT_TRUE(BridgePorts().empty());
  EXPECT_TRUE(Reservations().empty());
  EXPECT_EQ(Sh("iptables-save -t nat | grep -c 'id: \"cycle'"), "0\n");
  EXPECT_EQ(Sh(StrCat("grep -c ' ", root_, "/ns/netns' /proc/self/mountinfo")), "0\n");
  EXPECT_TRUE(ListDir(root_ + "/ns/netns")->empty());
  EXPECT_TRUE(ListDir(root_ + "/cache")->empty());
  auto median = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return static_cast<long long>(v[v.size() / 2]);
  };
  auto p90 = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return static_cast<long long>(v[v.size() * 9 / 10]);
  };
  printf(
      "20 cycles: ADD median %lld ms p90 %lld ms; DEL median %lld ms p90 %lld ms; pin+unpin median %lld ms\n",
      median(add_ms), p90(add_ms), median(del_ms), p90(del_ms), median(pin_ms));
}

TEST_F(PluginsTest, FailedAddIsUndoneByDel) {
  WriteList(Json::array({Bridge(), Portmap(), {{"type", "fake"}, {"behavior", "fail"}}}));
  Manager m(Options());
  std::string id = "failed" + RandomHexId().substr(0, 8);
  std::string netns = Pin(id);
  auto att = m.Setup(Pod(id, netns));
  ASSERT_FALSE(att.ok());
  std::string msg(att.status().message());
  EXPECT_NE(msg.find("[code 11] fake failure: fake details"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stderr: fake stderr line"), std::string::npos) << msg;
  EXPECT_TRUE(BridgePorts().empty());
  EXPECT_TRUE(Reservations().empty());
  EXPECT_EQ(Sh("iptables-save -t nat").find(id), std::string::npos);
  EXPECT_TRUE(ListDir(root_ + "/cache")->empty());
}

TEST_F(PluginsTest, CheckWithRealPlugins) {
  // Debian's portmap 1.1.1 fails CHECK on an IPv4-only pod (it looks for an IPv6 DNAT chain it never
  // made), so this list leaves it out.
  WriteList(Json::array({Bridge(), {{"type", "loopback"}}}));
  Manager m(Options());
  std::string id = "check" + RandomHexId().substr(0, 8);
  std::string netns = Pin(id);
  ASSERT_TRUE(m.Setup(Pod(id, netns)).ok());
  EXPECT_TRUE(m.Check(Pod(id, netns)).ok()) << m.Check(Pod(id, netns));
  // Someone changes the pod interface's MAC address: CHECK notices.
  Sh(StrCat("nsenter --net=", netns, " ip link set dev eth0 address 02:42:de:ad:be:ef"));
  absl::Status st = m.Check(Pod(id, netns));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("CNI plugin bridge CHECK failed"), std::string::npos) << st;
  EXPECT_TRUE(m.Teardown(Pod(id, netns)).ok());
  EXPECT_TRUE(Reservations().empty());
}

TEST_F(PluginsTest, BrokenRealPluginReportsItsErrorAndStderr) {
  // portmap without prevResult (first in the list) refuses with its own error object.
  WriteList(Json::array({Portmap()}));
  Manager m(Options());
  std::string id = "broken" + RandomHexId().substr(0, 8);
  auto att = m.Setup(Pod(id, Pin(id)));
  ASSERT_FALSE(att.ok());
  std::string msg(att.status().message());
  EXPECT_NE(msg.find("CNI plugin portmap ADD failed (exit status 1)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[code 999] must be called as chained plugin"), std::string::npos) << msg;
}

TEST_F(PluginsTest, HangingPluginIsKilledAndTheRestUndone) {
  WriteList(Json::array({Bridge(), {{"type", "fake"}, {"behavior", "hang"}}}));
  ManagerOptions o = Options();
  o.plugin_timeout = absl::Milliseconds(500);
  Manager m(o);
  std::string id = "hang" + RandomHexId().substr(0, 8);
  int64_t start = MonotonicNow();
  auto att = m.Setup(Pod(id, Pin(id)));
  EXPECT_TRUE(absl::IsDeadlineExceeded(att.status())) << att.status();
  EXPECT_LT(MonotonicNow() - start, 10'000'000'000);
  EXPECT_TRUE(BridgePorts().empty());
  EXPECT_TRUE(Reservations().empty());
}

TEST_F(PluginsTest, GarbageCollectDetachesSandboxesThatAreGone) {
  Manager m(Options());
  std::string live = "gclive" + RandomHexId().substr(0, 8);
  std::string dead = "gcdead" + RandomHexId().substr(0, 8);
  std::string lost = "gclost" + RandomHexId().substr(0, 8);
  std::string live_ns = Pin(live), dead_ns = Pin(dead), lost_ns = Pin(lost);
  auto a = m.Setup(Pod(live, live_ns));
  auto b = m.Setup(Pod(dead, dead_ns));
  auto c = m.Setup(Pod(lost, lost_ns));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status() << b.status() << c.status();
  ASSERT_EQ(BridgePorts().size(), 3u);
  // "lost" had its netns removed too (say by hand while the daemon was down); "dead" is only unknown.
  ASSERT_TRUE(sys::UnpinNamespace(lost_ns).ok());
  ASSERT_TRUE(m.GarbageCollect({live}).ok());
  EXPECT_EQ(Reservations(), std::vector<std::string>{a->ips[0]});  // both IPs released
  std::string nat = Sh("iptables-save -t nat");
  EXPECT_EQ(nat.find(dead), std::string::npos) << nat;
  // Without its netns, bridge cannot find the pod addresses its masquerade rules were made for
  // (plugins v1.1.1 read them from the interface), so those rules of "lost" stay: the reason sandboxes
  // must be torn down before their netns is unpinned. Removed here by hand.
  EXPECT_NE(nat.find(lost), std::string::npos) << "bridge v1.1.1 cleans up without the netns after all?";
  PurgeNatRulesOf(lost);
  EXPECT_TRUE(m.CachedAttachment(live).ok());
  EXPECT_TRUE(absl::IsNotFound(m.CachedAttachment(dead).status()));
  EXPECT_TRUE(absl::IsNotFound(m.CachedAttachment(lost).status()));
  ASSERT_TRUE(m.Teardown(Pod(live, live_ns)).ok());
  EXPECT_TRUE(Reservations().empty());
}

}  // namespace
}  // namespace cricket::cni
